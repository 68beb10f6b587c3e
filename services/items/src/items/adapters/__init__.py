"""Items adapters: the enrichment providers behind the EnrichmentProvider port."""
