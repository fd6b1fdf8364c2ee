# Writes a C++ header holding each monitoring query of ops/sql as a string
# constant (k_<name>_sql), so `raregen status` runs exactly the files an
# operator reads and runs by hand. Run at build time (see CMakeLists.txt):
#   cmake -DSQL_DIR=... -DOUT=... -DNAMES="a;b" -P embed_sql.cmake
set(text "#pragma once\n// Generated from ops/sql/*.sql by service/status/embed_sql.cmake: do not edit.\n\nnamespace raregen::status::sql {\n")
foreach(name IN LISTS NAMES)
  file(READ "${SQL_DIR}/${name}.sql" body)
  string(APPEND text "\ninline constexpr const char* k_${name} = R\"rgsql(${body})rgsql\";\n")
endforeach()
string(APPEND text "\n}  // namespace raregen::status::sql\n")
file(WRITE "${OUT}.tmp" "${text}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
