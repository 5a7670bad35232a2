#include "supervise/status/status.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>

#include "supervise/fs.hpp"

namespace supervise::status {
namespace {

using json = nlohmann::ordered_json;

json optional_string(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

// Invalid UTF-8 in a command or message must not make the document unwritable.
std::string dump(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

json checkpoint_json(const Checkpoint& c) {
  json final_json = nullptr;
  if (c.final) {
    final_json = {{"ok", c.final->ok},
                  {"files_stored", c.final->files_stored},
                  {"files_unchanged", c.final->files_unchanged},
                  {"files_skipped", c.final->files_skipped},
                  {"bytes_stored", c.final->bytes_stored},
                  {"seconds", c.final->seconds},
                  {"error", optional_string(c.final->error)},
                  {"files_failed", c.final->files_failed}};
  }
  json restore_json = nullptr;
  if (const auto& r = c.restore) {
    restore_json = {{"ok", r->ok},
                    {"round", r->round ? json(*r->round) : json(nullptr)},
                    {"complete", r->complete},
                    {"files_restored", r->files_restored},
                    {"files_kept", r->files_kept},
                    {"files_mismatched", r->files_mismatched},
                    {"files_failed", r->files_failed},
                    {"bytes_restored", r->bytes_restored},
                    {"seconds", r->seconds},
                    {"error", optional_string(r->error)}};
  }
  json open = json::array();
  for (const auto& u : c.open_uploads) open.push_back({{"object", u.object}, {"upload_id", u.upload_id}});
  return {{"path", c.path},     {"url", c.url},
          {"rounds", c.rounds}, {"failed_rounds", c.failed_rounds},
          {"final", final_json}, {"restore", restore_json},
          {"open_uploads", open}};
}

std::string shorten(const std::string& s, std::size_t max) {
  return s.size() <= max ? s : s.substr(0, max) + "...";
}

}  // namespace

std::string format_time(TimePoint t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

nlohmann::ordered_json to_json(const Status& s) {
  json checkpoints = json::array();
  for (const auto& c : s.checkpoints) checkpoints.push_back(checkpoint_json(c));
  json duration = nullptr;
  if (s.started_at)
    duration = s.elapsed ? std::chrono::duration<double>(*s.elapsed).count()
                         : std::chrono::duration<double>(s.finished_at - *s.started_at).count();
  return {
      {"schema_version", 1},
      {"task", optional_string(s.task)},
      {"action", std::string(spec::to_string(s.action))},
      {"exit_code", s.exit_code},
      {"signal", s.signal ? json(spec::signal_name(*s.signal)) : json(nullptr)},
      {"core_dumped", s.core_dumped},
      {"matched_rule", optional_string(s.matched_rule)},
      {"error", optional_string(s.error)},
      {"command", s.command},
      {"started_at", s.started_at ? json(format_time(*s.started_at)) : json(nullptr)},
      {"finished_at", format_time(s.finished_at)},
      {"duration_seconds", duration},
      {"stop", s.stop ? json{{"requested_by", s.stop->requested_by}, {"at", format_time(s.stop->at)}}
                      : json(nullptr)},
      {"checkpoints", checkpoints},
      {"supervisor_exit_code", s.supervisor_exit_code},
      {"provisional", s.provisional},
      {"resources", s.resources ? json{{"max_rss_kib", s.resources->max_rss_kib},
                                       {"user_cpu_seconds", s.resources->user_cpu_seconds},
                                       {"system_cpu_seconds", s.resources->system_cpu_seconds}}
                                : json(nullptr)},
      {"oom_kills", s.oom_kills ? json(*s.oom_kills) : json(nullptr)},
      {"oom_killed", s.oom_killed},
  };
}

std::string render(const Status& status) { return dump(to_json(status), 2) + "\n"; }

std::string render_compact(const Status& status, std::size_t max_bytes) {
  json j = to_json(status);
  std::string out = dump(j, -1);
  if (out.size() <= max_bytes) return out;
  // Too long: first the per-checkpoint details, then the long strings, then all but
  // the decision itself.
  std::size_t failed = 0;
  for (const auto& c : status.checkpoints)
    if (!c.final || !c.final->ok) ++failed;
  // Every field keeps its type: the entries go, their counts stay beside them.
  j["checkpoints"] = json::array();
  j["checkpoints_omitted"] = status.checkpoints.size();
  j["checkpoints_not_ok"] = failed;
  j["truncated"] = true;
  out = dump(j, -1);
  if (out.size() <= max_bytes) return out;
  if (status.error) j["error"] = shorten(*status.error, 512);
  if (status.task) j["task"] = shorten(*status.task, 256);
  if (status.matched_rule) j["matched_rule"] = shorten(*status.matched_rule, 256);
  json command = json::array();
  std::size_t budget = 1024;
  for (const auto& arg : status.command) {
    std::string a = shorten(arg, 256);
    if (a.size() > budget) break;
    budget -= a.size();
    command.push_back(a);
  }
  j["command"] = command;
  out = dump(j, -1);
  if (out.size() <= max_bytes) return out;
  json minimal = {{"schema_version", 1},
                  {"action", j["action"]},
                  {"exit_code", j["exit_code"]},
                  {"signal", j["signal"]},
                  {"supervisor_exit_code", j["supervisor_exit_code"]},
                  {"provisional", j["provisional"]},
                  {"oom_killed", j["oom_killed"]},
                  {"truncated", true}};
  return dump(minimal, -1);
}

void write(const std::string& path, const Status& status) {
  fs::write_atomically(path, render(status), 0644, /*make_parents=*/true, fs::InPlace::kIfBindMounted);
}

void write_compact(const std::string& path, const Status& status) {
  // Kubernetes bind-mounts the termination log as a single file: it cannot be replaced
  // by rename, so it is written in place.
  fs::create_parents(path);
  fs::write_in_place(path, render_compact(status), 0644);
}

}  // namespace supervise::status
