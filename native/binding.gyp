{
  "targets": [
    {
      "target_name": "berth",
      "sources": [
        "src/addon/addon.cc",
        "src/addon/spawn.c",
        "src/addon/sync.c",
        "src/addon/process.c",
        "src/addon/seccomp.c",
        "src/addon/devices.c"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=9"],
      "libraries": ["-lseccomp"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-std=gnu++20"]
    },
    {
      "target_name": "berth-nsexec",
      "type": "executable",
      "sources": [
        "src/nsexec/main.c",
        "src/nsexec/plan.c",
        "src/nsexec/util.c",
        "src/nsexec/paths.c",
        "src/nsexec/rootfs.c",
        "src/nsexec/security.c"
      ],
      "cflags": ["-Wall", "-Wextra", "-Wno-format-truncation", "-O2", "-std=gnu11"],
      "ldflags": ["-static"]
    }
  ]
}
