#include "supervise/s3/curl_api.hpp"

#include <dlfcn.h>

namespace supervise::s3 {
namespace {

struct Loaded {
  CurlApi api{};
  std::string error;
  bool ok = false;
};

template <typename F>
bool bind(void* lib, const char* name, F& out, std::string& error) {
  out = reinterpret_cast<F>(::dlsym(lib, name));
  if (out == nullptr) error = std::string("libcurl has no ") + name;
  return out != nullptr;
}

Loaded load() {
  Loaded l;
  void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = ::dlerror();
    l.error = std::string("cannot load libcurl.so.4 (install libcurl4): ") + (why ? why : "unknown error");
    return l;
  }
  CurlApi& a = l.api;
  l.ok = bind(lib, "curl_global_init", a.global_init, l.error) && bind(lib, "curl_easy_init", a.easy_init, l.error) &&
         bind(lib, "curl_easy_setopt", a.easy_setopt, l.error) &&
         bind(lib, "curl_easy_perform", a.easy_perform, l.error) &&
         bind(lib, "curl_easy_getinfo", a.easy_getinfo, l.error) &&
         bind(lib, "curl_easy_reset", a.easy_reset, l.error) &&
         bind(lib, "curl_easy_cleanup", a.easy_cleanup, l.error) &&
         bind(lib, "curl_easy_strerror", a.easy_strerror, l.error) &&
         bind(lib, "curl_slist_append", a.slist_append, l.error) &&
         bind(lib, "curl_slist_free_all", a.slist_free_all, l.error);
  // curl_global_init is not thread-safe: done here, once, before any worker uses curl.
  if (l.ok && a.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    l.ok = false;
    l.error = "curl_global_init failed";
  }
  return l;
}

}  // namespace

const CurlApi* load_curl(std::string& error) {
  static const Loaded loaded = load();  // thread-safe initialisation
  if (!loaded.ok) {
    error = loaded.error;
    return nullptr;
  }
  return &loaded.api;
}

}  // namespace supervise::s3
