import { expect } from "vitest";
import { OdysseyError } from "../../src";

/** The OdysseyError a call rejects with (the test fails if it resolves, or rejects otherwise). */
export async function failure(promise: Promise<unknown>): Promise<OdysseyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OdysseyError);
  return error as OdysseyError;
}
