# Sourced by the build scripts: compile through ccache when it is installed.
# Sets `launcher` (CMake arguments, empty without ccache).
#
# ccache hashes the working directory of -g builds, and absolute paths under
# the source tree, by default. CCACHE_NOHASHDIR and CCACHE_BASEDIR (this
# checkout) make the same compile a hit in another build directory (the
# consumer projects, the build without AWS) and in another clone (CI's fresh
# clone after a local run), which is most of CI's build time.
launcher=()
if command -v ccache > /dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  export CCACHE_NOHASHDIR=1
  CCACHE_BASEDIR="$(pwd -P)"
  export CCACHE_BASEDIR
fi
