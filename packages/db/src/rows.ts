import { Column, getTableName, is, SQL } from "drizzle-orm";

/** How one selected value is decoded from the driver (a column, or typed SQL with a decoder). */
interface Decoder {
  mapFromDriverValue(value: unknown): unknown;
}

/** What drizzle keeps on a prepared select: the selected fields in column order, and the joins. */
interface PreparedSelect {
  fields?: { path: string[]; field: unknown }[];
  joinsNotNullableMap?: Record<string, boolean>;
  customResultMapper?: (rows: unknown[][]) => unknown;
}

type Plan =
  | { key: string; index: number; decoder: Decoder }
  | { key: string; members: Plan[]; nullWhenNull: number | undefined };

/** drizzle's own choice of decoder for a selected field (`decoder` is internal to its SQL type). */
function decoderOf(field: unknown): Decoder {
  if (is(field, Column)) return field;
  const withSql = field as {
    decoder?: Decoder;
    sql?: { decoder?: Decoder };
    _?: { sql: { decoder?: Decoder } };
  };
  // SQL, an aliased SQL expression (`sql\`…\`.as(…)`), or a subquery's field.
  const decoder = is(field, SQL) ? withSql.decoder : (withSql.sql?.decoder ?? withSql._?.sql.decoder);
  if (!decoder) throw new Error("compiledRowMapper: a selected field without a decoder");
  return decoder;
}

/** A selected field with its position in the driver's row. */
type Field = { path: string[]; field: unknown; index: number };

function plan(fields: Field[], depth: number, joins?: Record<string, boolean>): Plan[] {
  const plans: Plan[] = [];
  const groups = new Map<string, Field[]>();
  for (const entry of fields) {
    const key = entry.path[depth] as string;
    if (entry.path.length === depth + 1) {
      plans.push({ key, index: entry.index, decoder: decoderOf(entry.field) });
    } else {
      let group = groups.get(key);
      if (!group) {
        group = [];
        groups.set(key, group);
        plans.push({ key, members: [], nullWhenNull: undefined });
      }
      group.push(entry);
    }
  }
  for (const entry of plans) {
    if (!("members" in entry)) continue;
    const group = groups.get(entry.key) ?? [];
    entry.members = plan(group, depth + 1, undefined);
    // drizzle's rule for a left-joined table's object: null when its first column is null, if all
    // its columns come from that one table and the join may miss.
    const first = group[0];
    if (depth === 0 && joins && first && is(first.field, Column)) {
      const table = getTableName(first.field.table);
      const oneTable = group.every((g) => is(g.field, Column) && getTableName(g.field.table) === table);
      if (oneTable && !joins[table]) entry.nullWhenNull = first.index;
    }
  }
  return plans;
}

/**
 * The source of one object literal per row: `r` is the driver's row, `d` the decoders. A literal
 * gives every row's object the same shape from the start, which later reads and JSON.stringify
 * are fastest on. Keys are written as JSON strings, so no name can break out of the literal.
 */
function literal(plans: Plan[], decoders: Decoder[]): string {
  const members = plans.map((entry) => {
    const key = JSON.stringify(entry.key);
    if ("members" in entry) {
      const object = literal(entry.members, decoders);
      return entry.nullWhenNull === undefined
        ? `${key}: ${object}`
        : `${key}: r[${entry.nullWhenNull}] === null ? null : ${object}`;
    }
    const value = `r[${entry.index}]`;
    // Column's own mapFromDriverValue returns the value as it is (text, boolean, …): not called.
    if (entry.decoder.mapFromDriverValue === Column.prototype.mapFromDriverValue) return `${key}: ${value}`;
    decoders.push(entry.decoder);
    return `${key}: ${value} === null ? null : d[${decoders.length - 1}].mapFromDriverValue(${value})`;
  });
  return `{ ${members.join(", ")} }`;
}

/**
 * Gives a prepared drizzle select a row mapper worked out once from its fields: the same objects
 * with the same decoding (and `null` for a left-joined table without a row), without drizzle's
 * per-value type checks, which made mapping rows an eighth of a `PUT`'s CPU (docs/benchmarks.md).
 */
export function compiledRowMapper<Q>(query: Q): Q {
  const prepared = query as PreparedSelect;
  if (!prepared.fields) throw new Error("compiledRowMapper: not a prepared select");
  const indexed = prepared.fields.map((entry, index) => ({ ...entry, index }));
  const decoders: Decoder[] = [];
  const body = literal(plan(indexed, 0, prepared.joinsNotNullableMap), decoders);
  const mapRow = new Function("d", `return (r) => (${body});`)(decoders) as (row: unknown[]) => unknown;
  prepared.customResultMapper = (rows) => rows.map(mapRow);
  return query;
}
