// ServiceModel: a botocore service model (service-2.json) compiled for validating requests the
// way AWS's front end does, with AWS's messages:
//   1 validation error detected: Value 'x' at 'featureGroupName' failed to satisfy
//   constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9]([_-]*[a-zA-Z0-9]){0,63}
// Checked: required members ("Value null at 'x' ... Member must not be null"), JSON types,
// string length in characters (min/max), numeric ranges, enums, list and map sizes, unions
// (exactly one member set) and patterns (the model's Java-style regexes, anchored to the
// whole value, run with PCRE2 in UTF + Unicode-property mode; each compiled once at Parse).
// Member paths are lowerCamelCase and list elements are written as AWS does:
// 'featureDefinitions.1.member.featureName' (1-based). Unknown members are ignored; JSON null
// counts as absent. Several errors are joined as "N validation errors detected: a; b".
//
// Usable for any json / rest-json model (SageMaker, the Feature Store runtime, Athena).
// This header is server-internal: it exposes RapidJSON values.
//
// Thread-safety: immutable after Parse; Validate* may be called concurrently.
#ifndef LARDER_SERVER_MODEL_VALIDATOR_H_
#define LARDER_SERVER_MODEL_VALIDATOR_H_

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "larder/status.h"

namespace larder::server {

class ServiceModel {
 public:
  // Parses and compiles `json`. InvalidArgument if it is not a botocore model, a shape
  // reference dangles, or a pattern does not compile (naming the shape and pattern).
  static StatusOr<std::unique_ptr<ServiceModel>> Parse(std::string_view json);

  ~ServiceModel();
  ServiceModel(const ServiceModel&) = delete;
  ServiceModel& operator=(const ServiceModel&) = delete;

  // metadata.targetPrefix ("SageMaker", "AmazonAthena"; "" for rest-json models).
  const std::string& target_prefix() const;
  bool HasOperation(std::string_view operation) const;
  // Operation names in model order.
  std::vector<std::string> OperationNames() const;

  // Validates `input` (the request members as one JSON object) against the input shape of
  // `operation`. OK for operations without input when `input` is an object. InvalidArgument
  // with the AWS-style message on any violation; NotFound for an unknown operation.
  Status ValidateInput(std::string_view operation, const rapidjson::Value& input) const;

  // Validates `value` against shape `shape_name`; `path` prefixes member paths in messages
  // ("" at the top level). NotFound for an unknown shape.
  Status ValidateShape(std::string_view shape_name, const rapidjson::Value& value,
                       std::string_view path) const;

  class Impl;

 private:
  explicit ServiceModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Java-regex -> PCRE2 translation used for model patterns, exposed for tests: \uXXXX (and
// surrogate pairs) become \x{...}; \d \w \s (and negations) keep Java's ASCII meaning.
std::string TranslateJavaPattern(std::string_view java_pattern);

}  // namespace larder::server

#endif  // LARDER_SERVER_MODEL_VALIDATOR_H_
