/**
 * The check both pooling tests run: many users' requests interleaved over very
 * few server connections, each seeing only itself, and no identity left on a
 * connection once its transaction is over.
 */
import type { TestApi } from "../support/api";
import { newUser } from "../support/tokens";

export async function expectNoClaimsCarryOver(api: TestApi, rounds = 20): Promise<void> {
  const users = await Promise.all(
    ["alice", "bob", "carol"].map(async (name) => {
      const user = await newUser(name);
      return { ...user, title: `${user.sub}'s task` };
    }),
  );
  for (const user of users) {
    const created = await api.graphql(
      `mutation ($title: String!) { createTask(input: { task: { title: $title } }) { task { title } } }`,
      { title: user.title },
      { token: user.token },
    );
    expect(created.body.errors).toBeUndefined();
  }

  for (let round = 0; round < rounds; round++) {
    // Fired together, so consecutive transactions on a connection belong to different callers.
    const [anonymous, ...answers] = await Promise.all([
      api.graphql(`{ currentUserId }`),
      ...users.map((user) => api.graphql(`{ currentUserId tasks { nodes { title } } }`, {}, { token: user.token })),
    ]);
    expect(anonymous.body).toEqual({ data: { currentUserId: null } });
    answers.forEach((answer, i) => {
      expect(answer.body).toEqual({
        data: { currentUserId: users[i]!.sub, tasks: { nodes: [{ title: users[i]!.title }] } },
      });
    });
  }

  const leftover = await api.pool.query(
    `select current_user as role, coalesce(current_setting('request.jwt.claims', true), '') as claims,
            current_setting('statement_timeout') as statement_timeout`,
  );
  expect(leftover.rows[0]).toEqual({
    role: new URL(api.pool.options.connectionString!).username,
    claims: "",
    statement_timeout: "0",
  });
}
