/** A positive integer from the environment variable `name`, or `fallback` when it is unset. */
export function positiveIntSetting(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}
