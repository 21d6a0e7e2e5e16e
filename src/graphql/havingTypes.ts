/**
 * `having` filters that Postgres can run: each typed by its aggregate's result.
 *
 * @graphile/pg-aggregates (0.2.0-rc) offers every `having: { <aggregate>: { <column>: … } }`
 * with the column's filter, whatever the aggregate: `distinctCount: { dueAt: { greaterThan:
 * "2026-…" } }` became `count(distinct due_at) > '2026-…'::timestamptz` (no such operator), and
 * `average: { dueAt: … }` an `avg(timestamptz)` that does not exist. Each field here gets the
 * filter of the aggregate's result type, or is removed when Postgres has no such aggregate for
 * the column or the schema no filter for its result.
 */
import type { AggregateSpec } from "@graphile/pg-aggregates";
// The package declares its inflectors here, a file its index does not import.
import type {} from "@graphile/pg-aggregates/dist/InflectionPlugin";
import type {} from "postgraphile";
import type { PgCodec } from "postgraphile/@dataplan/pg";

/** Aggregates Postgres defines for every ordered type, although the spec offers them only for numbers. */
const ORDERED_AGGREGATES = new Set(["min", "max"]);

/** Per `<Table>Having<Aggregate>Input` type: each column field's corrected filter type, or null to remove it. */
type Corrections = Map<string, Map<string, string | null>>;
const correctionsByBuild = new WeakMap<GraphileBuild.Build, Corrections>();

function correctionsOf(build: GraphileBuild.Build): Corrections {
  let found = correctionsByBuild.get(build);
  if (found) return found;
  found = new Map();
  const { inflection } = build;
  for (const resource of Object.values(build.input.pgRegistry.pgResources)) {
    const attributes = resource.codec.attributes;
    if (!attributes || resource.parameters) continue;
    for (const spec of build.pgAggregateSpecs) {
      const fields = new Map<string, string | null>();
      for (const [attributeName, attribute] of Object.entries(attributes)) {
        const codec = attribute.codec as PgCodec;
        const field = inflection.attribute({ codec: resource.codec, attributeName });
        fields.set(field, havingFilterFor(build, spec, codec));
      }
      found.set(inflection.aggregateHavingAggregateInputType({ resource, aggregateSpec: spec }), fields);
    }
  }
  correctionsByBuild.set(build, found);
  return found;
}

/** The filter type for `spec(column)`, or null when Postgres or the schema cannot compare it. */
function havingFilterFor(build: GraphileBuild.Build, spec: AggregateSpec, codec: PgCodec): string | null {
  const columnFilter = build.pgHavingFilterTypeNameForCodec(codec);
  if (!columnFilter) return null; // not offered in the first place
  if (!spec.isSuitableType(codec) && !ORDERED_AGGREGATES.has(spec.id)) return null;
  return build.pgHavingFilterTypeNameForCodec(spec.pgTypeCodecModifier?.(codec) ?? codec);
}

export const HavingResultTypePlugin: GraphileConfig.Plugin = {
  name: "TasksHavingResultTypePlugin",
  version: "1.0.0",
  description: "Types each `having` aggregate filter by the aggregate's result, or removes it",
  after: ["PgAggregatesAddHavingAggregateTypesPlugin"],
  schema: {
    hooks: {
      GraphQLInputObjectType_fields(fields, build, context) {
        const corrections = correctionsOf(build).get(context.Self.name);
        if (!corrections) return fields;
        const result: typeof fields = {};
        for (const [name, field] of Object.entries(fields)) {
          if (!corrections.has(name)) {
            result[name] = field; // a computed column's field: not ours to judge
            continue;
          }
          const typeName = corrections.get(name);
          const type = typeName ? build.getTypeByName(typeName) : undefined;
          if (type && build.graphql.isInputObjectType(type)) result[name] = { ...field, type };
        }
        return result;
      },
    },
  },
};
