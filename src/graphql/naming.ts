/**
 * Clean names for the generated schema (see schema.graphql). The database keeps
 * its honest structure — a composite unique key and foreign key on
 * (user_id, list_id) so a task can never point into another user's list — and
 * these smart tags keep that plumbing out of the GraphQL API.
 */
import { pgSmartTags } from "postgraphile/utils";

const NamingTagsPlugin = pgSmartTags([
  {
    // Exists only as the target of tasks' composite foreign key: no `listByUserIdAndRowId`.
    kind: "constraint",
    match: "app_public.lists.lists_user_id_id_key",
    tags: { behavior: ["-single", "-update", "-delete"] },
  },
  {
    // `task.list` and `list.tasks`, not `userList` / `tasksByUserIdAndListId`.
    kind: "constraint",
    match: "app_public.tasks.tasks_list_id_fkey",
    tags: { fieldName: "list", foreignFieldName: "tasks" },
  },
  // One way to change a row: by its rowId. Relay clients still refetch with `node(id:)`.
  ...["app_public.tasks", "app_public.lists"].map((match) => ({
    kind: "class" as const,
    match,
    tags: { behavior: ["-nodeId:resource:update", "-nodeId:resource:delete"] },
  })),
  // Every row a client sees is already theirs: filtering, ordering or grouping by owner is noise.
  ...["tasks", "lists"].map((table) => ({
    kind: "attribute" as const,
    match: `app_public.${table}.user_id`,
    tags: { behavior: ["-filterBy", "-orderBy", "-groupBy", "-aggregate"] },
  })),
  // A version is read and sent back (expectedVersion), never searched, sorted or summed: no index serves it.
  ...["tasks", "lists"].map((table) => ({
    kind: "attribute" as const,
    match: `app_public.${table}.version`,
    tags: { behavior: ["-filterBy", "-orderBy", "-groupBy", "-aggregate", "-havingBy"] },
  })),
  /*
   * What clients filter, sort and group tasks by. The connection-filter plugin
   * offers only indexed columns unless told otherwise; each query here runs on one
   * user's rows. Every order offered has an index (user_id, column, id), so a page
   * is read from the caller's rows in order, never found by walking a whole-table
   * index (migration 000007; test/db/order-plans.test.ts enumerates them).
   */
  ...Object.entries({
    title: ["+filterBy", "+orderBy"],
    completed: ["+filterBy", "+orderBy", "+groupBy"],
    completed_at: ["+filterBy", "+orderBy", "+groupBy"],
    priority: ["+filterBy", "+orderBy", "+groupBy"],
    due_at: ["+filterBy", "+orderBy", "+groupBy"],
    tags: ["+filterBy"],
    created_at: ["+filterBy", "+orderBy", "+groupBy"],
    updated_at: ["+filterBy", "+orderBy"],
    list_id: ["+filterBy", "+groupBy"],
  }).map(([column, behavior]) => ({
    kind: "attribute" as const,
    match: `app_public.tasks.${column}`,
    tags: { behavior },
  })),
  ...Object.entries({
    name: ["+filterBy", "+orderBy"],
    created_at: ["+filterBy", "+orderBy"],
    updated_at: ["+orderBy"],
  }).map(([column, behavior]) => ({
    kind: "attribute" as const,
    match: `app_public.lists.${column}`,
    tags: { behavior },
  })),
]);

const NamingInflectionPlugin: GraphileConfig.Plugin = {
  name: "TasksNamingInflectionPlugin",
  version: "1.0.0",
  inflection: {
    // NodeAccessorPlugin (`taskById`) is disabled; this keeps simplify-inflection's override of it quiet.
    add: { nodeById: (_options, typeName: string) => `${typeName}ById` },
    // GraphQL enum values are conventionally upper case: HIGH, not high.
    replace: { enumValue: (previous, _options, value, codec) => previous!(value, codec).toUpperCase() },
  },
};

export const NamingPreset: GraphileConfig.Preset = {
  plugins: [NamingTagsPlugin, NamingInflectionPlugin],
  // `taskById(id: ID!)` would duplicate `node(id:)` and `task(rowId:)`.
  disablePlugins: ["NodeAccessorPlugin"],
};
