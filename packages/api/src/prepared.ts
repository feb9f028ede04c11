import type { Database } from "@odyssey/db";

/**
 * A query built once per database and reused: drizzle then skips rebuilding its SQL on every
 * call, and the driver runs it as a prepared statement. Use `sql.placeholder()` for inputs.
 */
export function preparedPerDatabase<Q>(build: (db: Database) => Q): (db: Database) => Q {
  const built = new WeakMap<Database, Q>();
  return (db) => {
    let query = built.get(db);
    if (!query) {
      query = build(db);
      built.set(db, query);
    }
    return query;
  };
}
