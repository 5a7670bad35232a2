// Atomic file writes: write a temporary file beside the target, fsync it, rename it
// over the target, fsync the directory. A reader sees the old file or the new one,
// never half of one. Used for declared files, the status and the file:// store.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <system_error>

namespace supervise::fs {

// Failure of a file operation, naming the operation and the path:
// "cannot create directory /x/y: Permission denied".
class FileError : public std::system_error {
 public:
  FileError(int err, const std::string& what_and_path);
  // The message without the errno text: "cannot create directory /x/y".
  const std::string& context() const { return context_; }

 private:
  std::string context_;
};

// Creates missing parent directories (mode 0755 before umask).
void create_parents(const std::string& path);

// Where rename cannot replace the path: a file bind-mounted on its own (Kubernetes, any
// container runtime's `-v file:file`) answers EBUSY, one across file systems EXDEV.
enum class InPlace {
  kNever,            // such a path is an error
  kIfBindMounted,    // such a path is written in place (write_in_place) instead
};

// Replaces `path` with `data`; the file gets exactly `mode` (umask does not apply).
// A symbolic link at `path` is replaced, never written through. Throws FileError.
void write_atomically(const std::string& path, std::string_view data, mode_t mode,
                      bool make_parents = false, InPlace in_place = InPlace::kNever);

// Truncates `path` (created with `mode` if missing) and writes `data` into it, then
// fsync: not atomic, for paths that cannot be replaced. Throws FileError.
void write_in_place(const std::string& path, std::string_view data, mode_t mode);

// The same with the contents written by `fill` into the temporary file's descriptor
// (fill throws FileError to give up; the temporary file is then removed).
void write_atomically_with(const std::string& path, mode_t mode, bool make_parents,
                           const std::function<void(int fd)>& fill);

// The temporary file of write_atomically for `filename` is this prefix plus six random
// characters: ".<filename>.tmp-XXXXXX", the name cut so that it fits NAME_MAX.
std::string temporary_prefix(const std::string& filename);
// True for a name of that form (".<something>.tmp-" and six letters or digits).
bool is_temporary_name(std::string_view name);

// Writes all of `data` to `fd`, retrying short writes and EINTR; throws FileError
// naming `path`.
void write_all(int fd, std::string_view data, const std::string& path);

}  // namespace supervise::fs
