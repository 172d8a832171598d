// RETURN_IF_ERROR / ASSIGN_OR_RETURN: propagate a non-OK Status to the caller.
#ifndef LARDER_COMMON_STATUS_MACROS_H_
#define LARDER_COMMON_STATUS_MACROS_H_

#include "larder/status.h"

#define LARDER_CONCAT_INNER_(a, b) a##b
#define LARDER_CONCAT_(a, b) LARDER_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::larder::Status larder_status_ = (expr);              \
    if (!larder_status_.ok()) return larder_status_;       \
  } while (0)

#define LARDER_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

// ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());
#define ASSIGN_OR_RETURN(lhs, expr) \
  LARDER_ASSIGN_OR_RETURN_IMPL_(LARDER_CONCAT_(larder_statusor_, __LINE__), lhs, expr)

#endif  // LARDER_COMMON_STATUS_MACROS_H_
