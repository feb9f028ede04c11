import { testServerUrl } from "@odyssey/db/testing";
import postgres from "postgres";
import type { TestServer } from "./server";

/** An administrator's connection to the Postgres server under a test server, and its database's name. */
export interface DatabaseAdmin {
  sql: postgres.Sql;
  /** The test server's database. */
  name: string;
  /** Ends every session of the test server's pool (named `odyssey`), as pg_terminate_backend does. */
  endPoolSessions(): Promise<void>;
  end(): Promise<void>;
}

export function databaseAdmin(server: TestServer): DatabaseAdmin {
  const sql = postgres(testServerUrl(), { max: 1, onnotice: () => {} });
  const name = new URL(server.database.url ?? "").pathname.slice(1);
  return {
    sql,
    name,
    async endPoolSessions() {
      await sql`select pg_terminate_backend(pid) from pg_stat_activity
        where datname = ${name} and application_name = 'odyssey'`;
    },
    end: () => sql.end(),
  };
}
