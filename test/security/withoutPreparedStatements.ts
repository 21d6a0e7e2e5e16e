// Read by @dataplan/pg when it loads: no named prepared statements (see pgbouncer.test.ts).
process.env.DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE = "0";
