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
         bind(lib, "curl_easy_getinfo", a.easy_getinfo, l.error) &&
         bind(lib, "curl_easy_reset", a.easy_reset, l.error) &&
         bind(lib, "curl_easy_cleanup", a.easy_cleanup, l.error) &&
         bind(lib, "curl_easy_strerror", a.easy_strerror, l.error) &&
         bind(lib, "curl_slist_append", a.slist_append, l.error) &&
         bind(lib, "curl_slist_free_all", a.slist_free_all, l.error) &&
         bind(lib, "curl_multi_init", a.multi_init, l.error) &&
         bind(lib, "curl_multi_add_handle", a.multi_add_handle, l.error) &&
         bind(lib, "curl_multi_remove_handle", a.multi_remove_handle, l.error) &&
         bind(lib, "curl_multi_perform", a.multi_perform, l.error) &&
         bind(lib, "curl_multi_poll", a.multi_poll, l.error) &&
         bind(lib, "curl_multi_info_read", a.multi_info_read, l.error) &&
         bind(lib, "curl_multi_cleanup", a.multi_cleanup, l.error);
  // libcurl linked libcrypto in (Debian's libcurl4 is the OpenSSL flavour): take its MD5
  // (and HMAC-SHA256) without loading anything more. Optional: the checks that use it have a fallback.
  if (l.ok) {
    if (void* crypto = ::dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD)) {
      a.evp_digest = reinterpret_cast<decltype(a.evp_digest)>(::dlsym(crypto, "EVP_Digest"));
      a.evp_md5 = reinterpret_cast<decltype(a.evp_md5)>(::dlsym(crypto, "EVP_md5"));
      if (a.evp_digest == nullptr || a.evp_md5 == nullptr) a.evp_digest = nullptr, a.evp_md5 = nullptr;
      a.hmac = reinterpret_cast<decltype(a.hmac)>(::dlsym(crypto, "HMAC"));
      a.evp_sha256 = reinterpret_cast<decltype(a.evp_sha256)>(::dlsym(crypto, "EVP_sha256"));
      if (a.hmac == nullptr || a.evp_sha256 == nullptr) a.hmac = nullptr, a.evp_sha256 = nullptr;
    }
  }
  // curl_global_init is not thread-safe: done here, once, before any worker uses curl.
  if (l.ok && a.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    l.ok = false;
    l.error = "curl_global_init failed";
  }
  return l;
}

}  // namespace

std::string md5(const CurlApi& api, std::string_view data) {
  if (api.evp_digest == nullptr) return "";
  unsigned char digest[64];
  unsigned int size = 0;
  if (api.evp_digest(data.data(), data.size(), digest, &size, api.evp_md5(), nullptr) != 1 || size != 16) return "";
  return std::string(reinterpret_cast<const char*>(digest), size);
}

std::string hmac_sha256(const CurlApi& api, std::string_view key, std::string_view data) {
  if (api.hmac == nullptr) return "";
  unsigned char digest[64];
  unsigned int size = 0;
  if (api.hmac(api.evp_sha256(), key.data(), static_cast<int>(key.size()),
               reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &size) == nullptr ||
      size != 32)
    return "";
  return std::string(reinterpret_cast<const char*>(digest), size);
}

const CurlApi* load_curl(std::string& error) {
  static const Loaded loaded = load();  // thread-safe initialisation
  if (!loaded.ok) {
    error = loaded.error;
    return nullptr;
  }
  return &loaded.api;
}

}  // namespace supervise::s3
