/**
 * The one error vocabulary of the domain. Each transport maps these once (tRPC codes, HTTP
 * statuses); domain code never speaks of either.
 */
export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = `${kind}Error`;
  }
}

export type DomainErrorKind =
  | "Validation"
  | "Unauthorized"
  | "Forbidden"
  | "NotFound"
  | "Conflict"
  | "PayloadTooLarge"
  | "Unprocessable"
  | "Unavailable";

export class ValidationError extends DomainError {
  constructor(message: string, options?: ErrorOptions) {
    super("Validation", message, options);
  }
}
export class UnauthorizedError extends DomainError {
  constructor(message: string) {
    super("Unauthorized", message);
  }
}
export class ForbiddenError extends DomainError {
  constructor(message: string) {
    super("Forbidden", message);
  }
}
export class NotFoundError extends DomainError {
  constructor(message: string) {
    super("NotFound", message);
  }
}
export class ConflictError extends DomainError {
  constructor(message: string, options?: ErrorOptions) {
    super("Conflict", message, options);
  }
}
export class PayloadTooLargeError extends DomainError {
  constructor(message: string) {
    super("PayloadTooLarge", message);
  }
}
/** Well-formed but not acceptable as sent, e.g. an idempotency key reused with another request. */
export class UnprocessableError extends DomainError {
  constructor(message: string) {
    super("Unprocessable", message);
  }
}
/** The database could not be reached; the caller may retry. */
export class UnavailableError extends DomainError {
  constructor(message: string, options?: ErrorOptions) {
    super("Unavailable", message, options);
  }
}

export const journeyNotFound = (slug: string) => new NotFoundError(`Journey with slug "${slug}" not found`);

/** Events sent while the journey's deletion is under way; sent again, they find it gone or kept. */
export class JourneyBeingDeletedError extends UnavailableError {
  constructor(slug: string, cause: unknown) {
    super(`Journey with slug "${slug}" is being deleted; retry shortly`, { cause });
  }
}
