// RuntimeApi: the SageMaker Feature Store runtime (rest-json, spec 1.2) on top of the catalog
// and the online store.
//   PUT    /FeatureGroup/{name}              PutRecord
//   GET    /FeatureGroup/{name}?...          GetRecord
//   DELETE /FeatureGroup/{name}?...          DeleteRecord
//   POST   /BatchGetRecord                   BatchGetRecord
//   POST   /BatchWriteRecord                 BatchWriteRecord
//   POST   /FeatureGroup/{name}/ListRecords  ListRecords
// {name} is a group name or ARN, percent-encoded in the path. Requests are validated against
// the model's constraints with AWS's wording before anything is looked up; a rejected request
// changes nothing. Errors map through error_map.h (Protocol::kRuntime).
#ifndef LARDER_SERVER_RUNTIME_API_H_
#define LARDER_SERVER_RUNTIME_API_H_

#include "catalog/catalog_reader.h"
#include "common/clock.h"
#include "online/online_store.h"
#include "server/http_types.h"

namespace larder::server {

// Thread-safe: Handle runs concurrently on every I/O thread; the object holds no mutable state.
class RuntimeApi final : public ApiHandler {
 public:
  // None are owned; all must outlive the RuntimeApi. `clock` stamps api_invocation_time when a
  // request carries no receive time.
  RuntimeApi(const catalog::CatalogReader* catalog, online::OnlineStore* store, const Clock* clock);

  void Handle(const HttpRequest& req, HttpResponse* resp) override;

 private:
  void PutRecord(std::string_view label, const HttpRequest& req, HttpResponse* resp);
  void GetRecord(std::string_view label, const HttpRequest& req, HttpResponse* resp);
  void DeleteRecord(std::string_view label, const HttpRequest& req, HttpResponse* resp);
  void BatchGetRecord(const HttpRequest& req, HttpResponse* resp);
  void BatchWriteRecord(const HttpRequest& req, HttpResponse* resp);
  void ListRecords(std::string_view label, const HttpRequest& req, HttpResponse* resp);

  int64_t ApiTime(const HttpRequest& req) const;

  const catalog::CatalogReader* const catalog_;
  online::OnlineStore* const store_;
  const Clock* const clock_;
};

}  // namespace larder::server

#endif  // LARDER_SERVER_RUNTIME_API_H_
