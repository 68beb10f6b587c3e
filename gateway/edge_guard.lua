-- The gateway's first look at a request (envoy.filters.http.lua), before authentication
-- and transcoding, and its last look at the reply. gateway/render.py inlines this file
-- after the settings line below.
-- Every `respond` here becomes a JSON google.rpc.Status through local_reply_config.
--
--   MAX_URL, MAX_HEADERS  byte budgets (render.py says why)
--   MAP_ROUTES            {method, Lua pattern} of REST calls whose body has a map field
--                         with scalar values
--   MAP_FIELDS            JSON names of those map fields -> their proto type, for messages

-- @SETTINGS@

local function string_end(text, i)
  -- text:sub(i, i) opens a JSON string; the index just after its closing quote.
  local j = i + 1
  while true do
    local q = text:find('["\\]', j)
    if q == nil then return nil end
    if text:sub(q, q) == "\\" then j = q + 2 else return q + 1 end
  end
end

-- The transcoder encodes an object given as a map<string, scalar> value into bytes the
-- service cannot parse (the caller would get a 500); name the entry instead.
local function bad_map_entry(text)
  local stack = {}  -- open containers: {object = bool, key = last key, map = field name}
  local i = 1
  while true do
    i = text:find('[{}%[%]",:]', i)
    if i == nil then return nil end
    local c = text:sub(i, i)
    local top = stack[#stack]
    if c == '"' then
      local j = string_end(text, i)
      if j == nil then return nil end  -- malformed: the transcoder says so
      if top and top.object and not top.value then top.key = text:sub(i + 1, j - 2) end
      i = j
    elseif c == ":" then
      if top then
        top.value = true
        if top.map and text:match("^%s*[{%[]", i + 1) then
          return top.map .. "." .. (top.key or "")
        end
      end
      i = i + 1
    elseif c == "," then
      if top then top.value = false end
      i = i + 1
    elseif c == "{" or c == "[" then
      local field = top and top.object and top.value and top.key
      local map = c == "{" and field and MAP_FIELDS[field] and field or nil
      stack[#stack + 1] = {object = c == "{", map = map}
      i = i + 1
    else
      stack[#stack] = nil
      i = i + 1
    end
  end
end

local function has_map_body(method, path)
  for _, route in ipairs(MAP_ROUTES) do
    if route[1] == method and path:find(route[2]) then return true end
  end
  return false
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local path = headers:get(":path") or ""
  if #path > MAX_URL then
    handle:respond({[":status"] = "414"}, "request URL is longer than " .. MAX_URL .. " bytes")
    return
  end
  local size = 0
  for key, value in pairs(headers) do
    if key ~= ":path" then size = size + #key + #value end
  end
  if size > MAX_HEADERS then
    handle:respond({[":status"] = "431"}, "request headers exceed " .. MAX_HEADERS .. " bytes")
    return
  end
  -- Only the few calls with such a field wait for their body here.
  if not has_map_body(headers:get(":method"), path:match("^[^?]*")) then return end
  local body = handle:body()
  if body == nil then return end
  local entry = bad_map_entry(body:getBytes(0, body:length()))
  if entry then
    local field = entry:match("^[^.]*")
    handle:respond(
      {[":status"] = "400"},
      entry .. ": invalid value (an object or a list) for a " .. MAP_FIELDS[field] .. " entry"
    )
  end
end

-- A service that refuses for now (429 throttled, 503 unavailable) says when to retry in a
-- google.rpc.RetryInfo; the transcoder turns it into the JSON body and drops the gRPC
-- trailers, so HTTP clients would not see it. Copy it into Retry-After (RFC 9110, whole
-- seconds, rounded up). Only those small error bodies are read.
local function retry_after(body)
  local whole, fraction = body:match('"retryDelay"%s*:%s*"(%d+)%.?(%d*)s"')
  if whole == nil then return nil end
  local seconds = tonumber(whole)
  if fraction ~= "" and tonumber(fraction) > 0 then seconds = seconds + 1 end
  return math.max(seconds, 1)
end

function envoy_on_response(handle)
  local headers = handle:headers()
  local status = headers:get(":status")
  if (status ~= "429" and status ~= "503") or headers:get("retry-after") then return end
  local body = handle:body()
  if body == nil then return end
  local seconds = retry_after(body:getBytes(0, body:length()))
  -- Waiting for the body ends the scope of the headers object taken before: ask again.
  if seconds then handle:headers():add("retry-after", tostring(seconds)) end
end
