/**
 * Every connection is bounded: a connection asked for without `first` or `last`
 * (or with them null) reads the first `defaultPageSize` rows, and `pageInfo`
 * says whether there are more. Not a schema default for `first`: that would
 * also apply alongside `last`, and page backwards from the wrong end
 * (graphile/crystal#2773). So the connection field's plan sets `first` itself,
 * from both arguments, and `first`'s own applyPlan is dropped (a connection
 * takes `first` once).
 */
import "graphile-build-pg";
import { ConnectionStep, constant, lambda, type FieldPlanResolver } from "postgraphile/grafast";

type Maybe<T> = T | null | undefined;

export function makeDefaultPagePlugin(defaultPageSize: number): GraphileConfig.Plugin {
  const effectiveFirst = ([first, last]: readonly [Maybe<number>, Maybe<number>]) =>
    first ?? (last == null ? defaultPageSize : null);
  return {
    name: "TasksDefaultPagePlugin",
    version: "1.0.0",
    after: ["PgFirstLastBeforeAfterArgsPlugin"],
    schema: {
      hooks: {
        GraphQLObjectType_fields_field(field, _build, { scope }) {
          if (!scope.isPgFieldConnection || !field.plan) return field;
          const plan: FieldPlanResolver = field.plan;
          return {
            ...field,
            plan($parent, fieldArgs, info) {
              const $connection = plan($parent, fieldArgs, info);
              if (!($connection instanceof ConnectionStep)) return $connection;
              const has = (name: string) => info.field.args.some((arg) => arg.name === name);
              if (!has("first")) return $connection;
              const $first = fieldArgs.getRaw("first");
              // `last` is absent on connections that cannot page backwards.
              const $last = has("last") ? fieldArgs.getRaw("last") : constant(undefined);
              $connection.setFirst(lambda([$first, $last], effectiveFirst, true));
              return $connection;
            },
          };
        },
        GraphQLObjectType_fields_field_args(args, _build, { scope }) {
          if (!scope.isPgFieldConnection || !args.first) return args;
          const { applyPlan: _applied, ...first } = args.first;
          return {
            ...args,
            first: {
              ...first,
              description: `Only read the first \`n\` values of the set. Without \`first\` or \`last\`, the first ${defaultPageSize}.`,
            },
          };
        },
      },
    },
  };
}
