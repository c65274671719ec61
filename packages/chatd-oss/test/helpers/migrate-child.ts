// Child process of the migration race test: migrates the database named on the command line and prints
// the files it applied as one JSON line. Run with `node --import tsx`.
import { migrate } from '../../src/migrate.js';

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: migrate-child.ts DATABASE_URL\n');
  process.exit(2);
}
const result = await migrate(url);
process.stdout.write(`${JSON.stringify(result)}\n`);
