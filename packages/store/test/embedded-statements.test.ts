/**
 * The embedded engine runs statements over PGlite's wire protocol itself (prepared once, one
 * round trip per call) instead of PGlite's query(): the answers must be the ones query() gives.
 */
import { rmSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedBackend } from "../src/embedded";
import { freshEmbeddedDir } from "./support";

let dir: string;
let backend: EmbeddedBackend;
let reference: PGlite;

beforeAll(async () => {
  dir = freshEmbeddedDir();
  backend = await EmbeddedBackend.open(dir);
  reference = await PGlite.create(); // in memory: what PGlite's query() answers
});

afterAll(async () => {
  await backend?.close();
  await reference?.close();
  rmSync(dir, { recursive: true, force: true });
});

const TYPED = `SELECT $1::bigint AS big, $2::boolean AS flag, $3::bytea AS bytes, $4::numeric AS num, $5::json AS doc,
                      $6::text AS txt, $7::integer AS nothing, $8::text[] AS list, now() > to_timestamp(0) AS later`;
const TYPED_PARAMS = [9_007_199_254_740_993n, true, new Uint8Array([0, 1, 254, 255]), "123456789012345678901234567890", '{"a":[1,"x"]}', "it's", null, ["a", "b,c"]];

describe("embedded statements over the wire protocol", () => {
  it("give the same values as PGlite's query(), for every type the store reads and writes", async () => {
    const expected = (await reference.query(TYPED, [...TYPED_PARAMS])).rows;
    for (let i = 0; i < 3; i++) {
      // The first call prepares the statement, the later ones reuse it.
      expect(await backend.sql.query(TYPED, TYPED_PARAMS)).toEqual(expected);
    }
  });

  it("answer right past the number of statements kept prepared (the unnamed statement)", async () => {
    for (let i = 0; i < 300; i++) {
      const rows = await backend.sql.query(`SELECT ${i}::integer AS n, $1::text AS t`, [`v${i}`]);
      expect(rows).toEqual([{ n: i, t: `v${i}` }]);
    }
    // Again, after others: a kept one (7) and one that was not kept (280; the unnamed statement is #299's by now).
    expect(await backend.sql.query("SELECT 7::integer AS n, $1::text AS t", ["again"])).toEqual([{ n: 7, t: "again" }]);
    expect(await backend.sql.query("SELECT 280::integer AS n, $1::text AS t", ["again"])).toEqual([{ n: 280, t: "again" }]);
  });

  it("a failing statement rejects with its SQLSTATE and leaves the connection usable; a failed write group commits nothing", async () => {
    await backend.sql.query("CREATE TABLE IF NOT EXISTS probe (id integer PRIMARY KEY)");
    await backend.write((tx) => tx.query("INSERT INTO probe VALUES (1)"));
    await expect(backend.sql.query("INSERT INTO probe VALUES ($1)", [1])).rejects.toMatchObject({ code: "23505" });
    await expect(backend.sql.query("SELEC 1")).rejects.toMatchObject({ code: "42601" });
    // Two writes queued together share one transaction; the failing one is retried alone, the other still commits.
    const [ok, failed] = await Promise.allSettled([
      backend.write((tx) => tx.query("INSERT INTO probe VALUES (2) RETURNING id")),
      backend.write((tx) => tx.query("INSERT INTO probe VALUES (1)")),
    ]);
    expect(ok).toMatchObject({ status: "fulfilled", value: [{ id: 2 }] });
    expect(failed).toMatchObject({ status: "rejected", reason: { code: "23505" } });
    expect(await backend.sql.query("SELECT id FROM probe ORDER BY id")).toEqual([{ id: 1 }, { id: 2 }]);
  });
});
