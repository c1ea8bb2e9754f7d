# Every dependency comes from a Debian 12 package (see scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(CURL REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)
pkg_check_modules(LIBSQUASHFS REQUIRED IMPORTED_TARGET libsquashfs1)
pkg_check_modules(LIBISOFS REQUIRED IMPORTED_TARGET libisofs-1)
pkg_check_modules(LIBZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(EXT2FS REQUIRED IMPORTED_TARGET ext2fs com_err)
# The block cache: XXH3 names blocks; the compression libraries' versions
# are part of a cache shelf's settings (libsquashfs-dev brings them).
pkg_check_modules(LIBXXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(COMPRESSION_LIBS REQUIRED IMPORTED_TARGET liblzma zlib liblz4)
# The fleet service's storage engines.
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(MICROHTTPD REQUIRED IMPORTED_TARGET libmicrohttpd)
# The dashboard's password hashes: crypt(3) of libxcrypt (libcrypt-dev).
pkg_check_modules(LIBCRYPT REQUIRED IMPORTED_TARGET libcrypt)
if(EDGEFORGE_TESTS)
  find_package(GTest REQUIRED)
endif()
