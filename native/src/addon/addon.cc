// The N-API surface of the C core: thin wrappers that validate nothing (TypeScript validates before calling,
// see ../../index.d.ts) and turn `struct berth_err` into one kind of JS error (ThrowErr). Waiting never
// blocks the event loop: fds (pidfds, the sync socket, eventfds) are watched with uv_poll on Node's loop.
#include <napi.h>
#include <uv.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>
#include <unistd.h>
#include "berth.h"

namespace {

Napi::Error MakeErr(Napi::Env env, const berth_err &e) {
  const char *name = strerrorname_np(e.code);
  std::string message = std::string(e.msg) + ": " + (name ? name : "EUNKNOWN") + " (" + strerror(e.code) + ")";
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  err.Set("errno", Napi::Number::New(env, e.code));
  err.Set("what", Napi::String::New(env, e.msg));
  return err;
}

Napi::Value ThrowErr(Napi::Env env, const berth_err &e) {
  MakeErr(env, e).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value Status(Napi::Env env, int exit_code, int sig) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("exitCode", exit_code >= 0 ? Napi::Value(Napi::Number::New(env, exit_code)) : env.Null());
  o.Set("signal", sig > 0 ? Napi::Value(Napi::Number::New(env, sig)) : env.Null());
  return o;
}

Napi::Object HelperHandle(Napi::Env env, pid_t pid, int sync_fd) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", Napi::Number::New(env, pid));
  o.Set("syncFd", Napi::Number::New(env, sync_fd));
  return o;
}

void StdioFds(const Napi::Value &v, int fds[3]) {
  Napi::Array stdio = v.As<Napi::Array>();
  for (uint32_t i = 0; i < 3; i++) fds[i] = stdio.Get(i).As<Napi::Number>().Int32Value();
}

// spawnHelper(helper, plan, [stdin, stdout, stderr]) → { pid, syncFd }
Napi::Value SpawnHelper(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string helper = info[0].As<Napi::String>();
  Napi::Buffer<uint8_t> plan = info[1].As<Napi::Buffer<uint8_t>>();
  int fds[3];
  StdioFds(info[2], fds);
  berth_err e{};
  pid_t pid;
  int sync_fd;
  if (berth_spawn_helper(helper.c_str(), plan.Data(), plan.Length(), fds, &pid, &sync_fd, &e) < 0) return ThrowErr(env, e);
  return HelperHandle(env, pid, sync_fd);
}

// parkHelper(helper) → { pid, syncFd }: a helper waiting for its plan (releaseHelper)
Napi::Value ParkHelper(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string helper = info[0].As<Napi::String>();
  berth_err e{};
  pid_t pid;
  int sync_fd;
  if (berth_park_helper(helper.c_str(), &pid, &sync_fd, &e) < 0) return ThrowErr(env, e);
  return HelperHandle(env, pid, sync_fd);
}

// releaseHelper(syncFd, plan, [stdin, stdout, stderr])
Napi::Value ReleaseHelper(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sync_fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> plan = info[1].As<Napi::Buffer<uint8_t>>();
  int fds[3];
  StdioFds(info[2], fds);
  berth_err e{};
  if (berth_release_helper(sync_fd, plan.Data(), plan.Length(), fds, &e) < 0) return ThrowErr(env, e);
  return env.Undefined();
}

// spawnProcess(file, argv, env ("K=V" strings), fds) → pid
Napi::Value SpawnProcess(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string file = info[0].As<Napi::String>();
  auto strings = [](Napi::Array a) {
    std::vector<std::string> v;
    for (uint32_t i = 0; i < a.Length(); i++) v.push_back(a.Get(i).As<Napi::String>());
    return v;
  };
  std::vector<std::string> args = strings(info[1].As<Napi::Array>()), envs = strings(info[2].As<Napi::Array>());
  std::vector<char *> argv, envp;
  for (auto &a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto &v : envs) envp.push_back(v.data());
  envp.push_back(nullptr);
  Napi::Array fdArr = info[3].As<Napi::Array>();
  std::vector<int> fds;
  for (uint32_t i = 0; i < fdArr.Length(); i++) fds.push_back(fdArr.Get(i).As<Napi::Number>().Int32Value());
  berth_err e{};
  pid_t pid;
  if (berth_spawn_process(file.c_str(), argv.data(), envp.data(), fds.data(), (int)fds.size(), &pid, &e) < 0) {
    return ThrowErr(env, e);
  }
  return Napi::Number::New(env, pid);
}

// memfd(name, contents?) → fd, positioned at 0
Napi::Value Memfd(const Napi::CallbackInfo &info) {
  std::string name = info[0].As<Napi::String>();
  const void *data = nullptr;
  size_t len = 0;
  if (info.Length() > 1 && info[1].IsBuffer()) {
    Napi::Buffer<uint8_t> b = info[1].As<Napi::Buffer<uint8_t>>();
    data = b.Data();
    len = b.Length();
  }
  berth_err e{};
  int fd = berth_memfd(name.c_str(), data, len, &e);
  if (fd < 0) return ThrowErr(info.Env(), e);
  return Napi::Number::New(info.Env(), fd);
}

// syncRecv(fd) → { type, value, text, fd } | { type: 0 } at EOF | null when nothing is waiting
Napi::Value SyncRecv(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  sync_msg m;
  int passed;
  berth_err e{};
  int rc = berth_sync_recv(fd, &m, &passed, &e);
  if (rc == -1) return ThrowErr(env, e);
  if (rc == -2) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", Napi::Number::New(env, rc == 0 ? 0 : m.type));
  o.Set("value", Napi::Number::New(env, m.value));
  o.Set("text", Napi::String::New(env, m.text));
  o.Set("fd", Napi::Number::New(env, passed));
  return o;
}

Napi::Value SyncSend(const Napi::CallbackInfo &info) {
  berth_err e{};
  if (berth_sync_send(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Uint32Value(), &e) < 0) {
    return ThrowErr(info.Env(), e);
  }
  return info.Env().Undefined();
}

Napi::Value SendFd(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>();
  std::string name = info[2].As<Napi::String>();
  berth_err e{};
  if (berth_send_fd(path.c_str(), info[1].As<Napi::Number>().Int32Value(), name.c_str(), &e) < 0) return ThrowErr(info.Env(), e);
  return info.Env().Undefined();
}

Napi::Value PidfdOpen(const Napi::CallbackInfo &info) {
  berth_err e{};
  int fd = berth_pidfd_open(info[0].As<Napi::Number>().Int32Value(), &e);
  if (fd < 0) return ThrowErr(info.Env(), e);
  return Napi::Number::New(info.Env(), fd);
}

// pidfdWait(fd) → { exitCode, signal } | null while the process runs
Napi::Value PidfdWait(const Napi::CallbackInfo &info) {
  berth_err e{};
  int code, sig;
  int rc = berth_pidfd_wait(info[0].As<Napi::Number>().Int32Value(), &code, &sig, &e);
  if (rc < 0) return ThrowErr(info.Env(), e);
  if (rc == 0) return info.Env().Null();
  return Status(info.Env(), code, sig);
}

// waitPid(pid, nohang) → { exitCode, signal } | null
Napi::Value WaitPid(const Napi::CallbackInfo &info) {
  berth_err e{};
  int code, sig;
  int rc = berth_wait_pid(info[0].As<Napi::Number>().Int32Value(), info[1].ToBoolean() ? 1 : 0, &code, &sig, &e);
  if (rc < 0) return ThrowErr(info.Env(), e);
  if (rc == 0) return info.Env().Null();
  return Status(info.Env(), code, sig);
}

// peekExited() → pid of an exited child (not reaped), 0 if none, -1 if there are no children
Napi::Value PeekExited(const Napi::CallbackInfo &info) {
  berth_err e{};
  pid_t pid = 0;
  if (berth_peek_exited(&pid, &e) < 0) {
    if (e.code == ECHILD) return Napi::Number::New(info.Env(), -1);
    return ThrowErr(info.Env(), e);
  }
  return Napi::Number::New(info.Env(), pid);
}

Napi::Value SetSubreaper(const Napi::CallbackInfo &info) {
  berth_err e{};
  if (berth_set_subreaper(&e) < 0) return ThrowErr(info.Env(), e);
  return info.Env().Undefined();
}

Napi::Value EventFd(const Napi::CallbackInfo &info) {
  berth_err e{};
  int fd = berth_eventfd(&e);
  if (fd < 0) return ThrowErr(info.Env(), e);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value ReadEventFd(const Napi::CallbackInfo &info) {
  berth_err e{};
  uint64_t v;
  if (berth_read_eventfd(info[0].As<Napi::Number>().Int32Value(), &v, &e) < 0) return ThrowErr(info.Env(), e);
  return Napi::Number::New(info.Env(), static_cast<double>(v));
}

Napi::Value ResizePty(const Napi::CallbackInfo &info) {
  berth_err e{};
  if (berth_resize_pty(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Uint32Value(),
                       info[2].As<Napi::Number>().Uint32Value(), &e) < 0) {
    return ThrowErr(info.Env(), e);
  }
  return info.Env().Undefined();
}

Napi::Value Mount(const Napi::CallbackInfo &info) {
  auto opt = [&](size_t i) -> std::string { return info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : std::string(); };
  std::string source = opt(0), target = opt(1), fstype = opt(2), data = opt(4);
  unsigned long flags = static_cast<unsigned long>(info[3].As<Napi::Number>().Int64Value());
  berth_err e{};
  if (berth_mount(info[0].IsString() ? source.c_str() : nullptr, target.c_str(), info[2].IsString() ? fstype.c_str() : nullptr,
                  flags, info[4].IsString() ? data.c_str() : nullptr, &e) < 0) {
    return ThrowErr(info.Env(), e);
  }
  return info.Env().Undefined();
}

Napi::Value Unmount(const Napi::CallbackInfo &info) {
  std::string target = info[0].As<Napi::String>();
  berth_err e{};
  if (berth_unmount(target.c_str(), info[1].As<Napi::Number>().Int32Value(), &e) < 0) return ThrowErr(info.Env(), e);
  return info.Env().Undefined();
}

Napi::Value Mkfifo(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>();
  berth_err e{};
  if (berth_mkfifo(path.c_str(), info[1].As<Napi::Number>().Uint32Value(), &e) < 0) return ThrowErr(info.Env(), e);
  return info.Env().Undefined();
}

Napi::Value Pipe(const Napi::CallbackInfo &info) {
  berth_err e{};
  int fds[2];
  if (berth_pipe(fds, &e) < 0) return ThrowErr(info.Env(), e);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  out.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  return out;
}

// attachDeviceFilter(cgroupDir, [{ type: 'a'|'b'|'c', major: -1|n, minor: -1|n, access: bits, allow }])
Napi::Value AttachDeviceFilter(const Napi::CallbackInfo &info) {
  std::string dir = info[0].As<Napi::String>();
  Napi::Array in = info[1].As<Napi::Array>();
  std::vector<berth_device_rule> rules(in.Length());
  for (uint32_t i = 0; i < in.Length(); i++) {
    Napi::Object r = in.Get(i).As<Napi::Object>();
    std::string type = r.Get("type").As<Napi::String>();
    rules[i] = { type.empty() ? 'a' : type[0], r.Get("major").As<Napi::Number>().Int32Value(), r.Get("minor").As<Napi::Number>().Int32Value(),
                 r.Get("access").As<Napi::Number>().Uint32Value(), r.Get("allow").ToBoolean() ? 1 : 0 };
  }
  berth_err e{};
  if (berth_attach_device_filter(dir.c_str(), rules.data(), rules.size(), &e) < 0) return ThrowErr(info.Env(), e);
  return info.Env().Undefined();
}

uint64_t ToU64(Napi::Value v) {
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
}

// compileSeccomp({ defaultAction, architectures: string[], syscalls: [{ name, action, args: [{index, value, valueTwo, op}] }] })
Napi::Value CompileSeccomp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object in = info[0].As<Napi::Object>();
  Napi::Array arches = in.Get("architectures").As<Napi::Array>();
  Napi::Array syscalls = in.Get("syscalls").As<Napi::Array>();
  std::vector<std::string> arch_names(arches.Length()), names(syscalls.Length());
  std::vector<const char *> arch_ptrs(arches.Length());
  std::vector<berth_seccomp_rule> rules(syscalls.Length());
  std::vector<std::vector<berth_seccomp_arg>> args(syscalls.Length());
  for (uint32_t i = 0; i < arches.Length(); i++) {
    arch_names[i] = arches.Get(i).As<Napi::String>().Utf8Value();
    arch_ptrs[i] = arch_names[i].c_str();
  }
  for (uint32_t i = 0; i < syscalls.Length(); i++) {
    Napi::Object s = syscalls.Get(i).As<Napi::Object>();
    names[i] = s.Get("name").As<Napi::String>().Utf8Value();
    Napi::Array a = s.Get("args").As<Napi::Array>();
    for (uint32_t j = 0; j < a.Length(); j++) {
      Napi::Object c = a.Get(j).As<Napi::Object>();
      args[i].push_back({ c.Get("index").As<Napi::Number>().Uint32Value(), ToU64(c.Get("value")), ToU64(c.Get("valueTwo")),
                          c.Get("op").As<Napi::Number>().Uint32Value() });
    }
    rules[i] = { names[i].c_str(), s.Get("action").As<Napi::Number>().Uint32Value(), args[i].data(), args[i].size() };
  }
  berth_seccomp_profile p{ in.Get("defaultAction").As<Napi::Number>().Uint32Value(), arch_ptrs.data(), arch_ptrs.size(),
                           rules.data(), rules.size() };
  void *bpf = nullptr;
  size_t len = 0;
  berth_err e{};
  if (berth_seccomp_compile(&p, &bpf, &len, &e) < 0) return ThrowErr(env, e);
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(env, static_cast<uint8_t *>(bpf), len);
  free(bpf);
  return out;
}

// watchFd(fd, callback) → FdWatcher: calls callback() each time fd is readable, until close().
class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static Napi::FunctionReference ctor;

  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "FdWatcher", {
      InstanceMethod("close", &FdWatcher::Close),
      InstanceMethod("unref", &FdWatcher::UnrefLoop),
      InstanceMethod("ref", &FdWatcher::RefLoop),
    });
    ctor = Napi::Persistent(f);
    exports.Set("FdWatcher", f);
  }

  explicit FdWatcher(const Napi::CallbackInfo &info) : Napi::ObjectWrap<FdWatcher>(info) {
    Napi::Env env = info.Env();
    int fd = info[0].As<Napi::Number>().Int32Value();
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "berth:FdWatcher");
    uv_loop_t *loop;
    napi_get_uv_event_loop(env, &loop);
    handle_ = new uv_poll_t;
    handle_->data = this;
    int rc = uv_poll_init(loop, handle_, fd);
    if (rc == 0) rc = uv_poll_start(handle_, UV_READABLE | UV_DISCONNECT, OnReadable);
    if (rc != 0) {
      delete handle_;
      handle_ = nullptr;
      berth_err e{};
      berth_fail(&e, -rc, "watch fd %d", fd);
      MakeErr(env, e).ThrowAsJavaScriptException();
      return;
    }
    Ref();  // alive while watching, even if JS drops the object
  }

 private:
  static void OnReadable(uv_poll_t *h, int status, int) {
    auto *self = static_cast<FdWatcher *>(h->data);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    Napi::Value arg = status < 0 ? Napi::Value(Napi::Number::New(env, status)) : env.Null();
    self->callback_.MakeCallback(self->Value(), { arg }, *self->context_);
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (handle_) {
      uv_poll_stop(handle_);
      uv_close(reinterpret_cast<uv_handle_t *>(handle_), [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
      handle_ = nullptr;
      Unref();
    }
    return info.Env().Undefined();
  }

  Napi::Value UnrefLoop(const Napi::CallbackInfo &info) {
    if (handle_) uv_unref(reinterpret_cast<uv_handle_t *>(handle_));
    return info.Env().Undefined();
  }

  Napi::Value RefLoop(const Napi::CallbackInfo &info) {
    if (handle_) uv_ref(reinterpret_cast<uv_handle_t *>(handle_));
    return info.Env().Undefined();
  }

  uv_poll_t *handle_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

Napi::FunctionReference FdWatcher::ctor;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("spawnHelper", Napi::Function::New(env, SpawnHelper));
  exports.Set("parkHelper", Napi::Function::New(env, ParkHelper));
  exports.Set("releaseHelper", Napi::Function::New(env, ReleaseHelper));
  exports.Set("spawnProcess", Napi::Function::New(env, SpawnProcess));
  exports.Set("memfd", Napi::Function::New(env, Memfd));
  exports.Set("syncRecv", Napi::Function::New(env, SyncRecv));
  exports.Set("syncSend", Napi::Function::New(env, SyncSend));
  exports.Set("sendFd", Napi::Function::New(env, SendFd));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen));
  exports.Set("pidfdWait", Napi::Function::New(env, PidfdWait));
  exports.Set("waitPid", Napi::Function::New(env, WaitPid));
  exports.Set("peekExited", Napi::Function::New(env, PeekExited));
  exports.Set("setSubreaper", Napi::Function::New(env, SetSubreaper));
  exports.Set("eventfd", Napi::Function::New(env, EventFd));
  exports.Set("readEventfd", Napi::Function::New(env, ReadEventFd));
  exports.Set("resizePty", Napi::Function::New(env, ResizePty));
  exports.Set("mount", Napi::Function::New(env, Mount));
  exports.Set("unmount", Napi::Function::New(env, Unmount));
  exports.Set("compileSeccomp", Napi::Function::New(env, CompileSeccomp));
  exports.Set("mkfifo", Napi::Function::New(env, Mkfifo));
  exports.Set("pipe", Napi::Function::New(env, Pipe));
  exports.Set("attachDeviceFilter", Napi::Function::New(env, AttachDeviceFilter));
  FdWatcher::Init(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(berth, Init)
