/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query WhoAmI {\n    currentUserId\n  }\n": typeof types.WhoAmIDocument,
    "\n  mutation CreateList($name: String!) {\n    createList(input: { list: { name: $name } }) {\n      list {\n        rowId\n        name\n      }\n    }\n  }\n": typeof types.CreateListDocument,
    "\n  fragment TaskSummary on Task {\n    rowId\n    title\n    priority\n    tags\n    dueAt\n    completed\n    completedAt\n    version\n  }\n": typeof types.TaskSummaryFragmentDoc,
    "\n  mutation CreateTask($task: TaskInput!) {\n    createTask(input: { task: $task }) {\n      task {\n        ...TaskSummary\n      }\n    }\n  }\n": typeof types.CreateTaskDocument,
    "\n  query ListTasks($listId: UUID!, $first: Int!, $after: Cursor) {\n    tasks(\n      first: $first\n      after: $after\n      orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]\n      filter: { listId: { equalTo: $listId } }\n    ) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      nodes {\n        ...TaskSummary\n      }\n    }\n  }\n": typeof types.ListTasksDocument,
    "\n  mutation CompleteTask($rowId: UUID!) {\n    updateTask(input: { rowId: $rowId, patch: { completed: true } }) {\n      task {\n        ...TaskSummary\n      }\n    }\n  }\n": typeof types.CompleteTaskDocument,
    "\n  query ListStats($listId: UUID!) {\n    all: tasks(filter: { listId: { equalTo: $listId } }) {\n      totalCount\n      byCompleted: groupedAggregates(groupBy: COMPLETED) {\n        keys\n        distinctCount {\n          rowId\n        }\n      }\n      byPriority: groupedAggregates(groupBy: PRIORITY) {\n        keys\n        distinctCount {\n          rowId\n        }\n      }\n    }\n    open: tasks(filter: { listId: { equalTo: $listId }, completed: { equalTo: false } }) {\n      totalCount\n    }\n  }\n": typeof types.ListStatsDocument,
    "\n  query ReadTask($rowId: UUID!) {\n    task(rowId: $rowId) {\n      ...TaskSummary\n    }\n  }\n": typeof types.ReadTaskDocument,
    "\n  mutation EditTask($rowId: UUID!, $patch: TaskPatch!, $expectedVersion: Int) {\n    updateTask(input: { rowId: $rowId, patch: $patch, expectedVersion: $expectedVersion }) {\n      task {\n        ...TaskSummary\n      }\n    }\n  }\n": typeof types.EditTaskDocument,
};
const documents: Documents = {
    "\n  query WhoAmI {\n    currentUserId\n  }\n": types.WhoAmIDocument,
    "\n  mutation CreateList($name: String!) {\n    createList(input: { list: { name: $name } }) {\n      list {\n        rowId\n        name\n      }\n    }\n  }\n": types.CreateListDocument,
    "\n  fragment TaskSummary on Task {\n    rowId\n    title\n    priority\n    tags\n    dueAt\n    completed\n    completedAt\n    version\n  }\n": types.TaskSummaryFragmentDoc,
    "\n  mutation CreateTask($task: TaskInput!) {\n    createTask(input: { task: $task }) {\n      task {\n        ...TaskSummary\n      }\n    }\n  }\n": types.CreateTaskDocument,
    "\n  query ListTasks($listId: UUID!, $first: Int!, $after: Cursor) {\n    tasks(\n      first: $first\n      after: $after\n      orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]\n      filter: { listId: { equalTo: $listId } }\n    ) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      nodes {\n        ...TaskSummary\n      }\n    }\n  }\n": types.ListTasksDocument,
    "\n  mutation CompleteTask($rowId: UUID!) {\n    updateTask(input: { rowId: $rowId, patch: { completed: true } }) {\n      task {\n        ...TaskSummary\n      }\n    }\n  }\n": types.CompleteTaskDocument,
    "\n  query ListStats($listId: UUID!) {\n    all: tasks(filter: { listId: { equalTo: $listId } }) {\n      totalCount\n      byCompleted: groupedAggregates(groupBy: COMPLETED) {\n        keys\n        distinctCount {\n          rowId\n        }\n      }\n      byPriority: groupedAggregates(groupBy: PRIORITY) {\n        keys\n        distinctCount {\n          rowId\n        }\n      }\n    }\n    open: tasks(filter: { listId: { equalTo: $listId }, completed: { equalTo: false } }) {\n      totalCount\n    }\n  }\n": types.ListStatsDocument,
    "\n  query ReadTask($rowId: UUID!) {\n    task(rowId: $rowId) {\n      ...TaskSummary\n    }\n  }\n": types.ReadTaskDocument,
    "\n  mutation EditTask($rowId: UUID!, $patch: TaskPatch!, $expectedVersion: Int) {\n    updateTask(input: { rowId: $rowId, patch: $patch, expectedVersion: $expectedVersion }) {\n      task {\n        ...TaskSummary\n      }\n    }\n  }\n": types.EditTaskDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WhoAmI {\n    currentUserId\n  }\n"): (typeof documents)["\n  query WhoAmI {\n    currentUserId\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateList($name: String!) {\n    createList(input: { list: { name: $name } }) {\n      list {\n        rowId\n        name\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateList($name: String!) {\n    createList(input: { list: { name: $name } }) {\n      list {\n        rowId\n        name\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment TaskSummary on Task {\n    rowId\n    title\n    priority\n    tags\n    dueAt\n    completed\n    completedAt\n    version\n  }\n"): (typeof documents)["\n  fragment TaskSummary on Task {\n    rowId\n    title\n    priority\n    tags\n    dueAt\n    completed\n    completedAt\n    version\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateTask($task: TaskInput!) {\n    createTask(input: { task: $task }) {\n      task {\n        ...TaskSummary\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateTask($task: TaskInput!) {\n    createTask(input: { task: $task }) {\n      task {\n        ...TaskSummary\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ListTasks($listId: UUID!, $first: Int!, $after: Cursor) {\n    tasks(\n      first: $first\n      after: $after\n      orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]\n      filter: { listId: { equalTo: $listId } }\n    ) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      nodes {\n        ...TaskSummary\n      }\n    }\n  }\n"): (typeof documents)["\n  query ListTasks($listId: UUID!, $first: Int!, $after: Cursor) {\n    tasks(\n      first: $first\n      after: $after\n      orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]\n      filter: { listId: { equalTo: $listId } }\n    ) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      nodes {\n        ...TaskSummary\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CompleteTask($rowId: UUID!) {\n    updateTask(input: { rowId: $rowId, patch: { completed: true } }) {\n      task {\n        ...TaskSummary\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CompleteTask($rowId: UUID!) {\n    updateTask(input: { rowId: $rowId, patch: { completed: true } }) {\n      task {\n        ...TaskSummary\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ListStats($listId: UUID!) {\n    all: tasks(filter: { listId: { equalTo: $listId } }) {\n      totalCount\n      byCompleted: groupedAggregates(groupBy: COMPLETED) {\n        keys\n        distinctCount {\n          rowId\n        }\n      }\n      byPriority: groupedAggregates(groupBy: PRIORITY) {\n        keys\n        distinctCount {\n          rowId\n        }\n      }\n    }\n    open: tasks(filter: { listId: { equalTo: $listId }, completed: { equalTo: false } }) {\n      totalCount\n    }\n  }\n"): (typeof documents)["\n  query ListStats($listId: UUID!) {\n    all: tasks(filter: { listId: { equalTo: $listId } }) {\n      totalCount\n      byCompleted: groupedAggregates(groupBy: COMPLETED) {\n        keys\n        distinctCount {\n          rowId\n        }\n      }\n      byPriority: groupedAggregates(groupBy: PRIORITY) {\n        keys\n        distinctCount {\n          rowId\n        }\n      }\n    }\n    open: tasks(filter: { listId: { equalTo: $listId }, completed: { equalTo: false } }) {\n      totalCount\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ReadTask($rowId: UUID!) {\n    task(rowId: $rowId) {\n      ...TaskSummary\n    }\n  }\n"): (typeof documents)["\n  query ReadTask($rowId: UUID!) {\n    task(rowId: $rowId) {\n      ...TaskSummary\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EditTask($rowId: UUID!, $patch: TaskPatch!, $expectedVersion: Int) {\n    updateTask(input: { rowId: $rowId, patch: $patch, expectedVersion: $expectedVersion }) {\n      task {\n        ...TaskSummary\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation EditTask($rowId: UUID!, $patch: TaskPatch!, $expectedVersion: Int) {\n    updateTask(input: { rowId: $rowId, patch: $patch, expectedVersion: $expectedVersion }) {\n      task {\n        ...TaskSummary\n      }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;