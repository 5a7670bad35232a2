// libcurl, loaded with dlopen the first time an object store (s3://, azure://, ...) is
// made: a task without one never pays for loading libcurl and OpenSSL at start-up. The functions
// are called through this table; the types and constants come from curl's headers.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace supervise::s3 {

struct CurlApi {
  CURLcode (*global_init)(long flags);
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  void (*easy_reset)(CURL*);
  void (*easy_cleanup)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  // A transfer is driven through a multi handle of its own, so that the client can look
  // at a cancel between short waits (client.cpp).
  CURLM* (*multi_init)();
  CURLMcode (*multi_add_handle)(CURLM*, CURL*);
  CURLMcode (*multi_remove_handle)(CURLM*, CURL*);
  CURLMcode (*multi_perform)(CURLM*, int* running);
  CURLMcode (*multi_poll)(CURLM*, curl_waitfd extra[], unsigned int extra_count, int timeout_ms, int* ready);
  CURLMsg* (*multi_info_read)(CURLM*, int* left);
  CURLMcode (*multi_cleanup)(CURLM*);
  // From the libcrypto that libcurl loaded (OpenSSL's EVP_Digest and EVP_md5), to check
  // what S3 stored; null where it is not there.
  int (*evp_digest)(const void* data, std::size_t size, unsigned char* md, unsigned int* md_size, const void* type,
                    void* engine);
  const void* (*evp_md5)();
  // HMAC and EVP_sha256 from the same libcrypto (Azure's SharedKey signature); null
  // where they are not there.
  unsigned char* (*hmac)(const void* type, const void* key, int key_size, const unsigned char* data,
                         std::size_t size, unsigned char* md, unsigned int* md_size);
  const void* (*evp_sha256)();
};

// The 16-byte MD5 digest of `data`, or "" without libcrypto.
std::string md5(const CurlApi& api, std::string_view data);

// The 32-byte HMAC-SHA256 of `data` under `key`, or "" without libcrypto.
std::string hmac_sha256(const CurlApi& api, std::string_view key, std::string_view data);

// The loaded library (once per process; thread-safe), or nullptr with `error` set.
const CurlApi* load_curl(std::string& error);

}  // namespace supervise::s3
