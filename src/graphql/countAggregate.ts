/**
 * `count { <column> }` among the aggregates: `count(column)`, the rows whose column
 * is not null — `count { rowId }` is the number of rows in each group.
 *
 * pg-aggregates counts only as `distinctCount`, i.e. `count(distinct column)`,
 * which sorts or hashes every value of the group to drop duplicates; on a primary
 * key there are none to drop, and the sort is most of a grouped dashboard's time
 * for a user with tens of thousands of tasks. Added through pg-aggregates' own
 * extension point (its list of aggregate specs), so grouping, `having` and
 * ordering by it come with it.
 */
declare global {
  namespace GraphileBuild {
    interface AggregateSpecIds {
      count: true;
    }
  }
}

export const CountAggregatePlugin: GraphileConfig.Plugin = {
  name: "CountAggregatePlugin",
  version: "1.0.0",
  after: ["PgAggregatesSpecsPlugin"],
  schema: {
    hooks: {
      build(build) {
        const { sql, dataplanPg, pgAggregateSpecs } = build;
        if (!sql || !dataplanPg || !pgAggregateSpecs) throw new Error("CountAggregatePlugin needs pg-aggregates");
        const bigint = dataplanPg.TYPES.bigint;
        pgAggregateSpecs.push({
          id: "count",
          humanLabel: "count",
          HumanLabel: "Count",
          isSuitableType: () => true,
          sqlAggregateWrap: (fragment) => sql`count(${fragment})`,
          isNonNull: true,
          pgTypeCodecModifier: () => bigint,
        });
        return build;
      },
    },
  },
};
