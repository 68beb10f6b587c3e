"""Identity domain errors, each with a stable UPPER_SNAKE reason."""

from __future__ import annotations


class IdentityError(Exception):
    """Root of every identity domain error."""

    reason = "IDENTITY_ERROR"
    default_message = "identity error"

    def __init__(self, message: str | None = None, **metadata: str) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        # Non-secret details for google.rpc.ErrorInfo.metadata.
        self.metadata: dict[str, str] = metadata


# Categories, named alike in every service: transport/errors.py maps these (by MRO) to
# gRPC status codes, never a concrete error.
class NotFound(IdentityError):
    reason = "NOT_FOUND"


class Conflict(IdentityError):
    reason = "ALREADY_EXISTS"


class AuthenticationFailed(IdentityError):
    reason = "UNAUTHENTICATED"


class Forbidden(IdentityError):
    reason = "PERMISSION_DENIED"


class PreconditionFailed(IdentityError):
    reason = "FAILED_PRECONDITION"


class InvalidRequest(IdentityError):
    reason = "INVALID_ARGUMENT"


class RateLimited(IdentityError):
    reason = "RATE_LIMITED"


# Concrete errors.
class OrganizationNotFound(NotFound):
    reason = "ORGANIZATION_NOT_FOUND"
    default_message = "organization not found"


class UserNotFound(NotFound):
    reason = "USER_NOT_FOUND"
    default_message = "user not found"


class ApiKeyNotFound(NotFound):
    reason = "API_KEY_NOT_FOUND"
    default_message = "API key not found"


class EmailTaken(Conflict):
    reason = "EMAIL_TAKEN"
    default_message = "email address is already registered"


class RequestIdReused(Conflict):
    reason = "REQUEST_ID_REUSED"
    default_message = "request_id was already used with a different request"


class InvalidCredentials(AuthenticationFailed):
    reason = "INVALID_CREDENTIALS"
    default_message = "invalid email or password"


class InvalidRefreshToken(AuthenticationFailed):
    reason = "INVALID_REFRESH_TOKEN"
    default_message = "refresh token is invalid, expired or revoked"


class RefreshTokenReused(AuthenticationFailed):
    reason = "REFRESH_TOKEN_REUSED"
    default_message = "refresh token was already used; the session has been revoked"


class InvalidApiKey(AuthenticationFailed):
    reason = "INVALID_API_KEY"
    default_message = "API key is invalid, expired or revoked"


class InvalidAccessToken(AuthenticationFailed):
    reason = "INVALID_ACCESS_TOKEN"
    default_message = "access token is invalid or expired"


class NotAuthenticated(AuthenticationFailed):
    reason = "NOT_AUTHENTICATED"
    default_message = "authentication required"


class WrongPassword(Forbidden):
    reason = "WRONG_PASSWORD"
    default_message = "current password is wrong"


class UserDeactivated(PreconditionFailed):
    reason = "USER_DEACTIVATED"
    default_message = "user is deactivated"


class LastOwner(PreconditionFailed):
    reason = "LAST_OWNER"
    default_message = "an organization must keep at least one active owner"


class ApiKeyNotActive(PreconditionFailed):
    reason = "API_KEY_NOT_ACTIVE"
    default_message = "API key is already revoked or expired"


class InvalidUpdateMask(InvalidRequest):
    reason = "INVALID_UPDATE_MASK"
    default_message = "update_mask names a field that cannot be changed"


class InvalidField(InvalidRequest):
    reason = "INVALID_FIELD"
    default_message = "a field has an invalid value"


class InvalidScope(InvalidRequest):
    """An API key asked for a scope outside the tenant vocabulary of the contracts."""

    reason = "INVALID_SCOPE"
    default_message = "scopes names a scope no API key may carry"


class TooManyLoginAttempts(RateLimited):
    reason = "TOO_MANY_LOGIN_ATTEMPTS"
    default_message = "too many failed login attempts; try again later"

    def __init__(self, retry_after_seconds: int, limit: str) -> None:
        super().__init__(retry_after_seconds=str(retry_after_seconds), limit=limit)
        self.retry_after_seconds = retry_after_seconds
