#include "tuner/mpi_executor.h"

#include "common/error.h"
#include "storage/results_db.h"
#include "tuner/mpi_comm.h"

namespace qtune {

TrialExecutor::Event MpiExecutor::wait() {
  const MpiMessage m = mpi_recv_json(MPI_ANY_SOURCE);
  QT_ASSERT(m.tag == kTagResult, "coordinator got a message with tag ", m.tag);
  QT_ASSERT(m.source >= 1 && m.source <= workers_, "message from unknown rank ", m.source);
  Event e;
  e.worker = m.source - 1;
  if (m.body.value("type", std::string()) == "result")
    e.result = TrialResult::from_json(m.body.at("result"));
  return e;
}

void MpiExecutor::submit(int worker, int64_t index, const QuantConfig& config, ScoredOn on) {
  mpi_send_json(
      worker + 1, kTagTask,
      {{"trial", index}, {"config", config.to_json()}, {"scored_on", scored_on_name(on)}});
}

void MpiExecutor::stop(int worker) { mpi_send_json(worker + 1, kTagStop, Json::object()); }

void run_mpi_worker(TrialRunner& runner) {
  mpi_send_json(0, kTagResult, {{"type", "ready"}});
  while (true) {
    const MpiMessage m = mpi_recv_json(0);
    if (m.tag == kTagStop) return;
    QT_ASSERT(m.tag == kTagTask, "worker got a message with tag ", m.tag);
    const int64_t index = m.body.at("trial").get<int64_t>();
    TrialResult r;
    try {
      const QuantConfig config =
          QuantConfig::from_json(m.body.at("config"), "trial " + std::to_string(index));
      r = runner.run(index, config, scored_on_from_name(m.body.at("scored_on").get<std::string>()));
    } catch (const std::exception& e) {
      // A config the worker cannot even parse: report it, keep serving.
      r.index = index;
      r.config_hash = config_hash(m.body.at("config"));
      r.status = "FAILED";
      r.error = e.what();
      r.rank = mpi_rank();
      r.host = host_name();
      r.started_at = r.ended_at = iso8601_utc_now();
    }
    mpi_send_json(0, kTagResult, {{"type", "result"}, {"result", r.to_json()}});
  }
}

}  // namespace qtune
