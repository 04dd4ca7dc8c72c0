// DuckDB side of the LeRobot tests (tests/RoboFactory.Data.Tests/LeRobotTests.cs): an independent reader of the
// parquet files our LeRobot writer produces. Installed by scripts/setup.sh (npm ci in this folder).
//   node lerobot_parquet.mjs DIR FPS   print one JSON object describing DIR's data, episodes and tasks tables
import { DuckDBInstance } from '@duckdb/node-api';
import path from 'node:path';

const dir = process.argv[2];
const fps = Number(process.argv[3]);
if (!dir || !(fps > 0)) {
  console.error('usage: node lerobot_parquet.mjs DATASET_DIR FPS');
  process.exit(2);
}
const lit = (p) => `'${p.replaceAll("'", "''")}'`;
const data = lit(path.join(dir, 'data', '*', '*.parquet'));
const episodes = lit(path.join(dir, 'meta', 'episodes', '*', '*.parquet'));
const tasks = lit(path.join(dir, 'meta', 'tasks.parquet'));

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
const columns = async (table) =>
  (await rows(`DESCRIBE SELECT * FROM read_parquet(${table})`)).map((r) => ({ name: r.column_name, type: r.column_type }));

const out = {
  data: {
    columns: await columns(data),
    // The physical parquet types, per column path, as the files store them.
    physical: await rows(`SELECT DISTINCT path_in_schema AS path, type FROM parquet_metadata(${data}) ORDER BY path`),
    files: (await rows(`SELECT DISTINCT filename FROM read_parquet(${data}, filename = true) ORDER BY filename`)).map((r) => path.relative(dir, r.filename)),
    rows: (await rows(`SELECT count(*) AS n FROM read_parquet(${data})`))[0].n,
    // Rows in file-name order, as LeRobot concatenates them: index must equal the position.
    index_mismatches: (await rows(`SELECT count(*) AS n FROM (SELECT index, row_number() OVER () - 1 AS pos FROM read_parquet(${data}) ) WHERE index <> pos`))[0].n,
    action_widths: (await rows(`SELECT DISTINCT len(action) AS w FROM read_parquet(${data})`)).map((r) => r.w),
    state_widths: (await rows(`SELECT DISTINCT len("observation.state") AS w FROM read_parquet(${data})`)).map((r) => r.w),
    episodes: (await rows(`SELECT episode_index, count(*) AS length, min(frame_index) AS first_frame, max(frame_index) AS last_frame,
        min(index) AS from_index, max(index) + 1 AS to_index, min(task_index) AS task,
        max(abs(timestamp * ${fps} - frame_index)) AS timestamp_error_frames, count(DISTINCT filename) AS files, any_value(filename) AS file
      FROM read_parquet(${data}, filename = true) GROUP BY episode_index ORDER BY episode_index`))
      .map((r) => ({ ...r, file: path.relative(dir, r.file) })),
    first_action: (await rows(`SELECT action FROM read_parquet(${data}) WHERE index = 0`))[0].action,
  },
  episodes: {
    columns: await columns(episodes),
    rows: await rows(`SELECT * FROM read_parquet(${episodes})`),
  },
  tasks: {
    columns: await columns(tasks),
    rows: await rows(`SELECT * FROM read_parquet(${tasks})`),
    metadata: (await rows(`SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${tasks})`)),
  },
};
console.log(JSON.stringify(out));
