# BPF programs: vmlinux.h from the running kernel's BTF, *.bpf.c -> *.bpf.o
# (clang -target bpf) -> *.skel.h (bpftool gen skeleton), embedded in the
# binary. Defines the target eg_bpf_skel and EG_BPF_SKEL_DIR (included by the
# top-level CMakeLists.txt), plus the benchmark programs in bench/.

find_program(EG_CLANG NAMES clang clang-14 clang-15 clang-16)
find_program(EG_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
if(NOT EG_CLANG)
  message(FATAL_ERROR "clang not found: install the Debian package 'clang' (or run scripts/install-deps.sh)")
endif()
if(NOT EG_BPFTOOL)
  message(FATAL_ERROR "bpftool not found: install the Debian package 'bpftool' (or run scripts/install-deps.sh)")
endif()

set(EG_VMLINUX_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH "kernel BTF that vmlinux.h is generated from")
if(NOT EXISTS ${EG_VMLINUX_BTF})
  message(FATAL_ERROR "${EG_VMLINUX_BTF} not found: the kernel needs CONFIG_DEBUG_INFO_BTF=y to build the BPF programs (or pass -DEG_VMLINUX_BTF=<file with BTF>)")
endif()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  set(EG_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(EG_BPF_ARCH arm64)
else()
  set(EG_BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

set(EG_BPF_SKEL_DIR ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${EG_BPF_SKEL_DIR})

add_custom_command(
  OUTPUT ${EG_BPF_SKEL_DIR}/vmlinux.h
  COMMAND sh -c "'${EG_BPFTOOL}' btf dump file '${EG_VMLINUX_BTF}' format c > '${EG_BPF_SKEL_DIR}/vmlinux.h.tmp'"
  COMMAND ${CMAKE_COMMAND} -E rename ${EG_BPF_SKEL_DIR}/vmlinux.h.tmp ${EG_BPF_SKEL_DIR}/vmlinux.h
  COMMENT "Generating vmlinux.h from ${EG_VMLINUX_BTF}"
  VERBATIM)

# eg_bpf_object(<name> <source>): <name>.bpf.o and <name>.skel.h in EG_BPF_SKEL_DIR.
function(eg_bpf_object name src)
  set(obj ${EG_BPF_SKEL_DIR}/${name}.bpf.o)
  set(skel ${EG_BPF_SKEL_DIR}/${name}.skel.h)
  file(GLOB hdrs ${CMAKE_SOURCE_DIR}/bpf/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${EG_CLANG} -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_${EG_BPF_ARCH}
            -I${EG_BPF_SKEL_DIR} -I${CMAKE_SOURCE_DIR}/bpf -c ${src} -o ${obj}.dbg
    # keep BTF, drop DWARF: a smaller embedded object
    COMMAND ${EG_BPFTOOL} gen object ${obj} ${obj}.dbg
    DEPENDS ${src} ${hdrs} ${EG_BPF_SKEL_DIR}/vmlinux.h
    COMMENT "Compiling BPF object ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND sh -c "'${EG_BPFTOOL}' gen skeleton '${obj}' name ${name} > '${skel}.tmp'"
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "Generating BPF skeleton ${name}.skel.h"
    VERBATIM)
endfunction()

eg_bpf_object(ebpf_guard ${CMAKE_SOURCE_DIR}/bpf/ebpf_guard.bpf.c)
add_custom_target(eg_bpf_skel ALL DEPENDS ${EG_BPF_SKEL_DIR}/ebpf_guard.skel.h)

# ---- benchmarks (bench/): load generators and the minimal-program loader ---
file(GLOB EG_STORMS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bench/storm_*.c)
foreach(s ${EG_STORMS})
  get_filename_component(name ${s} NAME_WE)
  add_executable(${name} ${s})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endforeach()
if(EXISTS ${CMAKE_SOURCE_DIR}/bench/minimal.bpf.c AND EXISTS ${CMAKE_SOURCE_DIR}/bench/minimal_loader.c)
  eg_bpf_object(minimal ${CMAKE_SOURCE_DIR}/bench/minimal.bpf.c)
  add_custom_target(eg_bpf_minimal_skel DEPENDS ${EG_BPF_SKEL_DIR}/minimal.skel.h)
  add_executable(minimal_loader ${CMAKE_SOURCE_DIR}/bench/minimal_loader.c)
  add_dependencies(minimal_loader eg_bpf_minimal_skel)
  target_include_directories(minimal_loader PRIVATE ${EG_BPF_SKEL_DIR} ${CMAKE_SOURCE_DIR}/bpf)
  target_link_libraries(minimal_loader PRIVATE PkgConfig::LIBBPF PkgConfig::LIBELF PkgConfig::ZLIB)
  set_target_properties(minimal_loader PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()
