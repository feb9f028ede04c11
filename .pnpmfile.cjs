// The published manifest of @odyssey/client carries only what installing it reads: its
// devDependencies name workspace packages that are never published, and its scripts name
// files that are not in the tarball.
module.exports = {
  hooks: {
    beforePacking(pkg) {
      if (pkg.name === "@odyssey/client") {
        delete pkg.devDependencies;
        delete pkg.scripts;
      }
      return pkg;
    },
  },
};
