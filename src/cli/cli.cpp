#include "supervise/cli.hpp"

#include "supervise/diagnostics.hpp"
#include "supervise/log.hpp"

namespace supervise::cli {
namespace {

constexpr std::string_view kSource = "command line";

// Options that take a value, and whether they may be repeated.
struct ValueOption {
  std::string_view name;
  bool repeatable;
};
constexpr ValueOption kValueOptions[] = {
    {"--spec", false},         {"--task", false},         {"--status-file", false},
    {"--termination-log", false}, {"--exit-action", true}, {"--checkpoint", true},
    {"--stop-timeout", false}, {"--grace-period", false}, {"--timeout", false},
    {"--signal-target", false}, {"--exit-code-from", false}, {"--log-level", false},
};

const ValueOption* find_value_option(std::string_view name) {
  for (const auto& o : kValueOptions)
    if (o.name == name) return &o;
  return nullptr;
}

struct Parsed {
  std::vector<std::pair<std::string, std::string>> values;  // option -> value, in order
  std::vector<std::string> flags;
  std::vector<std::string> command;
};

// Splits argv into options and the command. The command starts after "--" or at the
// first argument that is not an option (as tini and dumb-init accept).
Parsed split(const std::vector<std::string>& args, Diagnostics& diag) {
  Parsed p;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      p.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      p.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    std::string name = arg, value;
    bool has_value = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (find_value_option(name)) {
      if (!has_value) {
        if (i + 1 >= args.size()) {
          diag.add(std::string(kSource), name, "needs a value");
          continue;
        }
        value = args[++i];
      }
      p.values.emplace_back(name, value);
    } else if (!has_value && (name == "--help" || name == "-h" || name == "--version" ||
                              name == "--validate" || name == "--verbose" || name == "--quiet" || name == "--no-manifest" || name == "--restore" ||
                              name == "-q" || (name.size() >= 2 && name[0] == '-' && name[1] == 'v' &&
                                               name.find_first_not_of('v', 1) == std::string::npos))) {
      p.flags.push_back(name);
    } else {
      diag.add(std::string(kSource), name, "unknown option (see --help)");
    }
  }
  return p;
}

}  // namespace

Options parse(const std::vector<std::string>& args, const GetEnv& getenv) {
  Diagnostics problems;
  Options o = parse(args, getenv, problems);
  bool answers_anyway = o.mode == Options::Mode::kHelp || o.mode == Options::Mode::kVersion;
  if (!problems.empty() && !answers_anyway) throw InputError(std::move(problems));
  return o;
}

Options parse(const std::vector<std::string>& args, const GetEnv& getenv, Diagnostics& diag) {
  Parsed p = split(args, diag);
  Options o;
  o.overrides.command = p.command;

  auto problem = [&](const std::string& where, std::string message) {
    diag.add(std::string(kSource), where, std::move(message));
  };
  auto duration = [&](const std::string& name, const std::string& value) -> std::optional<spec::Duration> {
    auto d = spec::parse_duration(value);
    if (!d) {
      problem(name, d.error());
      return std::nullopt;
    }
    return *d;
  };
  auto level = [&](const std::string& where, const std::string& value) {
    if (auto l = log::parse_level(value)) o.log_level = *l;
    else problem(where, quote(value) + " is not a log level (trace, debug, info, warn, error, off)");
  };
  auto exit_code_from = [&](const std::string& where, const std::string& value) {
    if (value == "command") o.exit_code_from = ExitCodeFrom::kCommand;
    else if (value == "action") o.exit_code_from = ExitCodeFrom::kAction;
    else problem(where, quote(value) + " is not command or action");
  };

  // The environment first, so that options override it.
  if (auto v = getenv("SUPERVISE_STATUS_FILE"); v && !v->empty()) o.status_file = *v;
  if (auto v = getenv("SUPERVISE_LOG_LEVEL"); v && !v->empty()) level("SUPERVISE_LOG_LEVEL", *v);
  if (auto v = getenv("SUPERVISE_EXIT_CODE_FROM"); v && !v->empty()) exit_code_from("SUPERVISE_EXIT_CODE_FROM", *v);
  if (auto v = getenv("SUPERVISE_RESTORE"); v && !v->empty()) {
    if (*v == "true" || *v == "1") o.overrides.restore = true;
    else if (*v == "false" || *v == "0") o.overrides.restore = false;
    else problem("SUPERVISE_RESTORE", quote(*v) + " is not true, false, 1 or 0");
  }

  std::vector<std::string> seen;
  for (const auto& [name, value] : p.values) {
    const ValueOption* option = find_value_option(name);
    bool again = false;
    for (const auto& s : seen) again = again || s == name;
    if (again && !option->repeatable) problem(name, "is given more than once");
    seen.push_back(name);
    if (name == "--spec") o.spec_path = value;
    else if (name == "--task") o.task_name = value;
    else if (name == "--status-file") o.status_file = value;
    else if (name == "--termination-log") o.termination_log = value;
    else if (name == "--exit-action") o.overrides.exit_actions.push_back(value);
    else if (name == "--checkpoint") o.overrides.checkpoints.push_back(value);
    else if (name == "--stop-timeout") { if (auto d = duration(name, value)) o.stop_timeout = *d; }
    else if (name == "--grace-period") { if (auto d = duration(name, value)) o.grace_period = *d; }
    else if (name == "--timeout") { if (auto d = duration(name, value)) o.timeout = *d; }
    else if (name == "--signal-target") {
      if (value == "group") o.signal_target = SignalTarget::kGroup;
      else if (value == "child") o.signal_target = SignalTarget::kChild;
      else problem(name, quote(value) + " is not group or child");
    } else if (name == "--exit-code-from") exit_code_from(name, value);
    else if (name == "--log-level") level(name, value);
  }
  int verbosity = 0;
  for (const auto& flag : p.flags) {
    if (flag == "--help" || flag == "-h") o.mode = Options::Mode::kHelp;
    else if (flag == "--version") o.mode = Options::Mode::kVersion;
    else if (flag == "--validate" && o.mode == Options::Mode::kRun) o.mode = Options::Mode::kValidate;
    else if (flag == "--quiet" || flag == "-q") o.log_level = spdlog::level::warn;
    else if (flag == "--no-manifest") o.manifest = false;
    else if (flag == "--restore") o.overrides.restore = true;
    else if (flag == "--verbose") ++verbosity;
    else verbosity += static_cast<int>(flag.size()) - 1;  // -v, -vv
  }
  if (verbosity > 0) o.log_level = verbosity == 1 ? spdlog::level::debug : spdlog::level::trace;

  if (o.mode == Options::Mode::kRun && !o.spec_path && o.overrides.command.empty())
    problem("", "no command: give one after -- or a task spec with --spec (see --help)");
  if (o.task_name && !o.spec_path) problem("--task", "needs --spec");
  return o;
}

int action_exit_code(spec::Action action) {
  switch (action) {
    case spec::Action::kComplete: return 0;
    case spec::Action::kReschedule: return 75;  // EX_TEMPFAIL: "try again later"
    case spec::Action::kFail: return 1;
  }
  return 1;
}

std::string version_text() { return std::string("supervise ") + SUPERVISE_VERSION + "\n"; }

std::string help_text() {
  return R"(Usage:
  supervise [OPTIONS] -- COMMAND [ARG...]        run a command
  supervise [OPTIONS] --spec FILE [--task NAME]  run the task of a spec
  supervise --validate --spec FILE [--task NAME] check a spec, run nothing (exit 0 or 125)

A task supervisor for containers (PID 1) and for local runs: writes the task's files,
runs the command in its own process group, forwards signals, reaps every process,
maps the exit code through exitActions and writes an exit-status JSON.

Options:
  --spec FILE                 task spec, YAML or JSON: one task or a workflow
                              (default none: the command comes after --)
  --task NAME                 the task to run from a workflow (default the only task;
                              required when it has several)
  --status-file PATH          write the exit-status JSON there (default none;
                              env SUPERVISE_STATUS_FILE)
  --termination-log PATH      also write a compact status of at most 4096 bytes there
                              (Kubernetes terminationMessagePath, e.g. /dev/termination-log;
                              default none)
  --exit-action ACTION=CODES  add an exit action, e.g. RESCHEDULE=1-255 (repeatable;
                              default the spec's exitActions, then 0 COMPLETE, other FAIL);
                              the item OOM, e.g. FAIL=OOM, matches a command killed by the
                              kernel's OOM killer and wins over the rule covering 137
  --checkpoint path=P,url=U,frequency=F[,restore=true][,regex=R]
                              add a checkpoint (repeatable; regex last, may hold commas;
                              default the spec's checkpoint entries)
  --restore                   before anything else, bring every checkpoint entry's last
                              stored checkpoint back into its path (default each
                              entry's `restore`, false; env SUPERVISE_RESTORE)
  --no-manifest               do not store a manifest after each checkpoint round
                              (default a manifest is stored)
  --stop-timeout DUR          SIGTERM to SIGKILL delay when stopping processes, at most
                              half the grace period (default 10s)
  --grace-period DUR          whole budget after a stop request (default 30s)
  --timeout DUR               longest run time; then stop as on SIGTERM (default none)
  --signal-target group|child who gets forwarded signals (default group)
  --exit-code-from command|action
                              exit with the command's code (default command) or with the
                              action's: COMPLETE 0, RESCHEDULE 75, FAIL 1
                              (env SUPERVISE_EXIT_CODE_FROM)
  --log-level LEVEL           trace, debug, info, warn, error, off (default info;
                              env SUPERVISE_LOG_LEVEL)
  -v, -vv, --verbose          debug, trace logging (default off)
  -q, --quiet                 warnings and errors only (default off)
  --validate                  check the spec and options, run nothing (default off)
  --version                   print the version and exit
  -h, --help                  print this help and exit

Environment (an option on the command line wins over its variable):
  SUPERVISE_STATUS_FILE       as --status-file
  SUPERVISE_LOG_LEVEL         as --log-level
  SUPERVISE_EXIT_CODE_FROM    as --exit-code-from
  SUPERVISE_RESTORE           true or 1: as --restore; false or 0: no entry restores
  SUPERVISE_S3_MULTIPART_THRESHOLD
                              s3://, gs://, tos://, swift:// (and azure:// blocks): files
                              larger than this go up in parts: bytes or K/M/G
                              (binary), 5MiB to 5GiB (default 64MiB)
  SUPERVISE_S3_MULTIPART_CHUNKSIZE
                              size of a part, 5MiB to 5GiB (default 8MiB)
  SUPERVISE_S3_MAX_CONCURRENT_REQUESTS
                              parts and files in flight at once, 1 to 256 (default 8);
                              memory is bounded by this many parts
  AWS_REQUEST_CHECKSUM_CALCULATION
                              when_supported (default): every upload carries its CRC-32C
                              for the server to verify; when_required: none
  AWS_RESPONSE_CHECKSUM_VALIDATION
                              when_supported (default): a whole-object download is checked
                              against the object's CRC-32C too; when_required: only
                              against the manifest's
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
                              s3:// credentials; without them the shared credentials file
  AWS_SHARED_CREDENTIALS_FILE that file (default ~/.aws/credentials)
  AWS_PROFILE                 its profile (default default)
  AWS_REGION, AWS_DEFAULT_REGION
                              s3:// region, the first set wins (default us-east-1)
  AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL
                              S3-compatible endpoint, path-style (default AWS itself)
  AWS_CA_BUNDLE               PEM file of certificates to trust (default the system's)
  GS_ACCESS_KEY_ID, GS_SECRET_ACCESS_KEY, GS_ENDPOINT_URL
                              gs:// HMAC keys, endpoint (default storage.googleapis.com)
  AZURE_STORAGE_CONNECTION_STRING; else AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY; else
  AZURE_STORAGE_SAS_TOKEN     azure:// credentials, in this order
  AZURE_STORAGE_SERVICE_ENDPOINT
                              azure:// blob endpoint (default <account>.blob.core.windows.net)
  TOS_ACCESS_KEY, TOS_SECRET_KEY, TOS_SECURITY_TOKEN, TOS_REGION, TOS_ENDPOINT_URL
                              tos:// keys, region (default: from tos-s3-<region>.*), endpoint
  SWIFT_ACCESS_KEY_ID, SWIFT_SECRET_ACCESS_KEY, SWIFT_REGION, SWIFT_ENDPOINT_URL
                              swift:// keys, region (default us-east-1), endpoint

Durations: 90, 0.5, "30s", "1h30m", "1.5h", "500ms", "2d", ISO 8601 "PT1H30M".

Exit status: the command's (128+N when signal N killed it); 125 when the task could not
start (invalid input, a file not written); 126 / 127 when the command cannot be executed /
is not found. With --exit-code-from=action: 0 / 75 / 1 for COMPLETE / RESCHEDULE / FAIL.
)";
}

}  // namespace supervise::cli
