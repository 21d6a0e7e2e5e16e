/**
 * No NATURAL order. Without an ORDER BY the planner may return a page in any
 * order it likes — including by scanning the whole table and filtering out other
 * users' rows until the page is full, which for a user with few rows reads every
 * row. Every order left is served by an index leading with user_id (migration
 * 000007), and the default, PRIMARY_KEY_ASC, is one of them.
 */
export const NoNaturalOrderPlugin: GraphileConfig.Plugin = {
  name: "NoNaturalOrderPlugin",
  version: "1.0.0",
  schema: {
    hooks: {
      GraphQLEnumType_values(values, build, context) {
        if (!context.scope.isPgRowSortEnum) return values;
        const natural = build.inflection.builtin("NATURAL");
        return Object.fromEntries(Object.entries(values).filter(([name]) => name !== natural));
      },
    },
  },
};
