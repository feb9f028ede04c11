import { writePgliteTemplate } from "@odyssey/db";

// Run by the build: the migrated, empty embedded database that a first start copies, so that
// `pnpm start` on a new data folder does not spend seconds creating a database cluster.
const path = new URL("./pglite-template.tar.gz", import.meta.url);
await writePgliteTemplate(path.pathname);
