// DuckDB's C API, loaded with dlopen on first use. Private to duckdb_engine.cc, which includes
// it right after duckdb.h. Why: linking libduckdb.so makes the dynamic linker relocate it and
// run its static initializers at every process start, which costs ~24 MB of resident pages and
// start-up time even for a server that never runs a query or for a `larder get`. Loading it
// when the first Database is opened keeps that cost where it is used.
//
// Every C API function the adapter calls is listed in LARDER_DUCKDB_FUNCTIONS and redirected by
// a macro of the same name to the pointer dlsym found, so call sites read as plain C API calls.
// A function the adapter starts using must be added to both lists below.
//
// Thread-safety: LoadDuckDb() is safe to call from any thread (a function-local static).
#ifndef LARDER_OFFLINE_DUCKDB_LOADER_H_
#define LARDER_OFFLINE_DUCKDB_LOADER_H_

#include <dlfcn.h>
#include <fmt/format.h>

#include "larder/status.h"

#ifndef LARDER_DUCKDB_LIBRARY
#define LARDER_DUCKDB_LIBRARY "libduckdb.so"
#endif

// clang-format off
#define LARDER_DUCKDB_FUNCTIONS(X) \
  X(duckdb_append_bool) \
  X(duckdb_append_double) \
  X(duckdb_append_int64) \
  X(duckdb_append_null) \
  X(duckdb_append_timestamp) \
  X(duckdb_append_value) \
  X(duckdb_append_varchar_length) \
  X(duckdb_appender_close) \
  X(duckdb_appender_column_count) \
  X(duckdb_appender_column_type) \
  X(duckdb_appender_create) \
  X(duckdb_appender_destroy) \
  X(duckdb_appender_end_row) \
  X(duckdb_appender_error_data) \
  X(duckdb_appender_flush) \
  X(duckdb_array_type_array_size) \
  X(duckdb_array_type_child_type) \
  X(duckdb_array_vector_get_child) \
  X(duckdb_close) \
  X(duckdb_connect) \
  X(duckdb_create_bool) \
  X(duckdb_create_config) \
  X(duckdb_create_double) \
  X(duckdb_create_int64) \
  X(duckdb_create_list_value) \
  X(duckdb_create_null_value) \
  X(duckdb_create_timestamp) \
  X(duckdb_create_timestamp_tz) \
  X(duckdb_create_varchar_length) \
  X(duckdb_data_chunk_get_size) \
  X(duckdb_data_chunk_get_vector) \
  X(duckdb_decimal_internal_type) \
  X(duckdb_decimal_scale) \
  X(duckdb_decimal_width) \
  X(duckdb_destroy_config) \
  X(duckdb_destroy_data_chunk) \
  X(duckdb_destroy_error_data) \
  X(duckdb_destroy_extracted) \
  X(duckdb_destroy_logical_type) \
  X(duckdb_destroy_pending) \
  X(duckdb_destroy_prepare) \
  X(duckdb_destroy_result) \
  X(duckdb_destroy_value) \
  X(duckdb_disconnect) \
  X(duckdb_enum_dictionary_size) \
  X(duckdb_enum_dictionary_value) \
  X(duckdb_enum_internal_type) \
  X(duckdb_error_data_has_error) \
  X(duckdb_error_data_message) \
  X(duckdb_execute_pending) \
  X(duckdb_extract_statements) \
  X(duckdb_extract_statements_error) \
  X(duckdb_fetch_chunk) \
  X(duckdb_free) \
  X(duckdb_get_list_child) \
  X(duckdb_get_list_size) \
  X(duckdb_get_table_names) \
  X(duckdb_get_type_id) \
  X(duckdb_get_varchar) \
  X(duckdb_interrupt) \
  X(duckdb_list_type_child_type) \
  X(duckdb_list_vector_get_child) \
  X(duckdb_map_type_key_type) \
  X(duckdb_map_type_value_type) \
  X(duckdb_open_ext) \
  X(duckdb_pending_error) \
  X(duckdb_pending_execute_task) \
  X(duckdb_pending_prepared) \
  X(duckdb_prepare_error) \
  X(duckdb_prepare_extracted_statement) \
  X(duckdb_prepared_statement_column_count) \
  X(duckdb_prepared_statement_column_logical_type) \
  X(duckdb_prepared_statement_column_name) \
  X(duckdb_prepared_statement_type) \
  X(duckdb_query) \
  X(duckdb_query_progress) \
  X(duckdb_result_error) \
  X(duckdb_result_error_type) \
  X(duckdb_rows_changed) \
  X(duckdb_set_config) \
  X(duckdb_string_t_data) \
  X(duckdb_string_t_length) \
  X(duckdb_struct_type_child_count) \
  X(duckdb_struct_type_child_name) \
  X(duckdb_struct_type_child_type) \
  X(duckdb_struct_vector_get_child) \
  X(duckdb_validity_row_is_valid) \
  X(duckdb_vector_get_data) \
  X(duckdb_vector_get_validity)
// clang-format on

namespace larder::offline::duckdb_loader {

struct Symbols {
#define LARDER_DUCKDB_MEMBER(name) decltype(&::name) p_##name = nullptr;
  LARDER_DUCKDB_FUNCTIONS(LARDER_DUCKDB_MEMBER)
#undef LARDER_DUCKDB_MEMBER
};

struct Loaded {
  Symbols symbols;
  Status status;  // OK once every symbol resolved
};

// Loads the library once per process: first the path the build found (LARDER_DUCKDB_LIBRARY),
// then "libduckdb.so" through the normal search path. The handle is never closed.
inline const Loaded& LoadDuckDb() {
  static const Loaded* const loaded = [] {
    auto* l = new Loaded();  // lives for the process
    void* handle = dlopen(LARDER_DUCKDB_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) handle = dlopen("libduckdb.so", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      l->status = Status::Unavailable(fmt::format(
          "cannot load DuckDB (tried {} and libduckdb.so): {} — run scripts/setup.sh",
          LARDER_DUCKDB_LIBRARY, why != nullptr ? why : "unknown error"));
      return l;
    }
#define LARDER_DUCKDB_LOAD(name)                                                         \
  l->symbols.p_##name = reinterpret_cast<decltype(&::name)>(dlsym(handle, #name));       \
  if (l->symbols.p_##name == nullptr && l->status.ok()) {                                \
    l->status = Status::Internal("the DuckDB library has no symbol " #name              \
                                 ": header and library versions differ");               \
  }
    LARDER_DUCKDB_FUNCTIONS(LARDER_DUCKDB_LOAD)
#undef LARDER_DUCKDB_LOAD
    return l;
  }();
  return *loaded;
}

inline const Symbols& Sym() { return LoadDuckDb().symbols; }

}  // namespace larder::offline::duckdb_loader

// clang-format off
#define duckdb_append_bool (::larder::offline::duckdb_loader::Sym().p_duckdb_append_bool)
#define duckdb_append_double (::larder::offline::duckdb_loader::Sym().p_duckdb_append_double)
#define duckdb_append_int64 (::larder::offline::duckdb_loader::Sym().p_duckdb_append_int64)
#define duckdb_append_null (::larder::offline::duckdb_loader::Sym().p_duckdb_append_null)
#define duckdb_append_timestamp (::larder::offline::duckdb_loader::Sym().p_duckdb_append_timestamp)
#define duckdb_append_value (::larder::offline::duckdb_loader::Sym().p_duckdb_append_value)
#define duckdb_append_varchar_length (::larder::offline::duckdb_loader::Sym().p_duckdb_append_varchar_length)
#define duckdb_appender_close (::larder::offline::duckdb_loader::Sym().p_duckdb_appender_close)
#define duckdb_appender_column_count (::larder::offline::duckdb_loader::Sym().p_duckdb_appender_column_count)
#define duckdb_appender_column_type (::larder::offline::duckdb_loader::Sym().p_duckdb_appender_column_type)
#define duckdb_appender_create (::larder::offline::duckdb_loader::Sym().p_duckdb_appender_create)
#define duckdb_appender_destroy (::larder::offline::duckdb_loader::Sym().p_duckdb_appender_destroy)
#define duckdb_appender_end_row (::larder::offline::duckdb_loader::Sym().p_duckdb_appender_end_row)
#define duckdb_appender_error_data (::larder::offline::duckdb_loader::Sym().p_duckdb_appender_error_data)
#define duckdb_appender_flush (::larder::offline::duckdb_loader::Sym().p_duckdb_appender_flush)
#define duckdb_array_type_array_size (::larder::offline::duckdb_loader::Sym().p_duckdb_array_type_array_size)
#define duckdb_array_type_child_type (::larder::offline::duckdb_loader::Sym().p_duckdb_array_type_child_type)
#define duckdb_array_vector_get_child (::larder::offline::duckdb_loader::Sym().p_duckdb_array_vector_get_child)
#define duckdb_close (::larder::offline::duckdb_loader::Sym().p_duckdb_close)
#define duckdb_connect (::larder::offline::duckdb_loader::Sym().p_duckdb_connect)
#define duckdb_create_bool (::larder::offline::duckdb_loader::Sym().p_duckdb_create_bool)
#define duckdb_create_config (::larder::offline::duckdb_loader::Sym().p_duckdb_create_config)
#define duckdb_create_double (::larder::offline::duckdb_loader::Sym().p_duckdb_create_double)
#define duckdb_create_int64 (::larder::offline::duckdb_loader::Sym().p_duckdb_create_int64)
#define duckdb_create_list_value (::larder::offline::duckdb_loader::Sym().p_duckdb_create_list_value)
#define duckdb_create_null_value (::larder::offline::duckdb_loader::Sym().p_duckdb_create_null_value)
#define duckdb_create_timestamp (::larder::offline::duckdb_loader::Sym().p_duckdb_create_timestamp)
#define duckdb_create_timestamp_tz (::larder::offline::duckdb_loader::Sym().p_duckdb_create_timestamp_tz)
#define duckdb_create_varchar_length (::larder::offline::duckdb_loader::Sym().p_duckdb_create_varchar_length)
#define duckdb_data_chunk_get_size (::larder::offline::duckdb_loader::Sym().p_duckdb_data_chunk_get_size)
#define duckdb_data_chunk_get_vector (::larder::offline::duckdb_loader::Sym().p_duckdb_data_chunk_get_vector)
#define duckdb_decimal_internal_type (::larder::offline::duckdb_loader::Sym().p_duckdb_decimal_internal_type)
#define duckdb_decimal_scale (::larder::offline::duckdb_loader::Sym().p_duckdb_decimal_scale)
#define duckdb_decimal_width (::larder::offline::duckdb_loader::Sym().p_duckdb_decimal_width)
#define duckdb_destroy_config (::larder::offline::duckdb_loader::Sym().p_duckdb_destroy_config)
#define duckdb_destroy_data_chunk (::larder::offline::duckdb_loader::Sym().p_duckdb_destroy_data_chunk)
#define duckdb_destroy_error_data (::larder::offline::duckdb_loader::Sym().p_duckdb_destroy_error_data)
#define duckdb_destroy_extracted (::larder::offline::duckdb_loader::Sym().p_duckdb_destroy_extracted)
#define duckdb_destroy_logical_type (::larder::offline::duckdb_loader::Sym().p_duckdb_destroy_logical_type)
#define duckdb_destroy_pending (::larder::offline::duckdb_loader::Sym().p_duckdb_destroy_pending)
#define duckdb_destroy_prepare (::larder::offline::duckdb_loader::Sym().p_duckdb_destroy_prepare)
#define duckdb_destroy_result (::larder::offline::duckdb_loader::Sym().p_duckdb_destroy_result)
#define duckdb_destroy_value (::larder::offline::duckdb_loader::Sym().p_duckdb_destroy_value)
#define duckdb_disconnect (::larder::offline::duckdb_loader::Sym().p_duckdb_disconnect)
#define duckdb_enum_dictionary_size (::larder::offline::duckdb_loader::Sym().p_duckdb_enum_dictionary_size)
#define duckdb_enum_dictionary_value (::larder::offline::duckdb_loader::Sym().p_duckdb_enum_dictionary_value)
#define duckdb_enum_internal_type (::larder::offline::duckdb_loader::Sym().p_duckdb_enum_internal_type)
#define duckdb_error_data_has_error (::larder::offline::duckdb_loader::Sym().p_duckdb_error_data_has_error)
#define duckdb_error_data_message (::larder::offline::duckdb_loader::Sym().p_duckdb_error_data_message)
#define duckdb_execute_pending (::larder::offline::duckdb_loader::Sym().p_duckdb_execute_pending)
#define duckdb_extract_statements (::larder::offline::duckdb_loader::Sym().p_duckdb_extract_statements)
#define duckdb_extract_statements_error (::larder::offline::duckdb_loader::Sym().p_duckdb_extract_statements_error)
#define duckdb_fetch_chunk (::larder::offline::duckdb_loader::Sym().p_duckdb_fetch_chunk)
#define duckdb_free (::larder::offline::duckdb_loader::Sym().p_duckdb_free)
#define duckdb_get_list_child (::larder::offline::duckdb_loader::Sym().p_duckdb_get_list_child)
#define duckdb_get_list_size (::larder::offline::duckdb_loader::Sym().p_duckdb_get_list_size)
#define duckdb_get_table_names (::larder::offline::duckdb_loader::Sym().p_duckdb_get_table_names)
#define duckdb_get_type_id (::larder::offline::duckdb_loader::Sym().p_duckdb_get_type_id)
#define duckdb_get_varchar (::larder::offline::duckdb_loader::Sym().p_duckdb_get_varchar)
#define duckdb_interrupt (::larder::offline::duckdb_loader::Sym().p_duckdb_interrupt)
#define duckdb_list_type_child_type (::larder::offline::duckdb_loader::Sym().p_duckdb_list_type_child_type)
#define duckdb_list_vector_get_child (::larder::offline::duckdb_loader::Sym().p_duckdb_list_vector_get_child)
#define duckdb_map_type_key_type (::larder::offline::duckdb_loader::Sym().p_duckdb_map_type_key_type)
#define duckdb_map_type_value_type (::larder::offline::duckdb_loader::Sym().p_duckdb_map_type_value_type)
#define duckdb_open_ext (::larder::offline::duckdb_loader::Sym().p_duckdb_open_ext)
#define duckdb_pending_error (::larder::offline::duckdb_loader::Sym().p_duckdb_pending_error)
#define duckdb_pending_execute_task (::larder::offline::duckdb_loader::Sym().p_duckdb_pending_execute_task)
#define duckdb_pending_prepared (::larder::offline::duckdb_loader::Sym().p_duckdb_pending_prepared)
#define duckdb_prepare_error (::larder::offline::duckdb_loader::Sym().p_duckdb_prepare_error)
#define duckdb_prepare_extracted_statement (::larder::offline::duckdb_loader::Sym().p_duckdb_prepare_extracted_statement)
#define duckdb_prepared_statement_column_count (::larder::offline::duckdb_loader::Sym().p_duckdb_prepared_statement_column_count)
#define duckdb_prepared_statement_column_logical_type (::larder::offline::duckdb_loader::Sym().p_duckdb_prepared_statement_column_logical_type)
#define duckdb_prepared_statement_column_name (::larder::offline::duckdb_loader::Sym().p_duckdb_prepared_statement_column_name)
#define duckdb_prepared_statement_type (::larder::offline::duckdb_loader::Sym().p_duckdb_prepared_statement_type)
#define duckdb_query (::larder::offline::duckdb_loader::Sym().p_duckdb_query)
#define duckdb_query_progress (::larder::offline::duckdb_loader::Sym().p_duckdb_query_progress)
#define duckdb_result_error (::larder::offline::duckdb_loader::Sym().p_duckdb_result_error)
#define duckdb_result_error_type (::larder::offline::duckdb_loader::Sym().p_duckdb_result_error_type)
#define duckdb_rows_changed (::larder::offline::duckdb_loader::Sym().p_duckdb_rows_changed)
#define duckdb_set_config (::larder::offline::duckdb_loader::Sym().p_duckdb_set_config)
#define duckdb_string_t_data (::larder::offline::duckdb_loader::Sym().p_duckdb_string_t_data)
#define duckdb_string_t_length (::larder::offline::duckdb_loader::Sym().p_duckdb_string_t_length)
#define duckdb_struct_type_child_count (::larder::offline::duckdb_loader::Sym().p_duckdb_struct_type_child_count)
#define duckdb_struct_type_child_name (::larder::offline::duckdb_loader::Sym().p_duckdb_struct_type_child_name)
#define duckdb_struct_type_child_type (::larder::offline::duckdb_loader::Sym().p_duckdb_struct_type_child_type)
#define duckdb_struct_vector_get_child (::larder::offline::duckdb_loader::Sym().p_duckdb_struct_vector_get_child)
#define duckdb_validity_row_is_valid (::larder::offline::duckdb_loader::Sym().p_duckdb_validity_row_is_valid)
#define duckdb_vector_get_data (::larder::offline::duckdb_loader::Sym().p_duckdb_vector_get_data)
#define duckdb_vector_get_validity (::larder::offline::duckdb_loader::Sym().p_duckdb_vector_get_validity)
// clang-format on

#endif  // LARDER_OFFLINE_DUCKDB_LOADER_H_
