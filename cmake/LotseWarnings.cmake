# SPDX-License-Identifier: AGPL-3.0-or-later
# Warnings live on an INTERFACE target that our own targets link; never in global flags, so that
# generated protobuf code and third-party headers are not held to them.
add_library(lotse_warnings INTERFACE)
target_compile_options(lotse_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
  $<$<BOOL:${LOTSE_WERROR}>:-Werror>)
add_library(lotse::warnings ALIAS lotse_warnings)

# Sanitizers and fuzzing instrumentation are selected by presets through these cache variables.
set(LOTSE_SANITIZE "" CACHE STRING "Comma-separated -fsanitize= list for all targets (presets set it)")
if(LOTSE_SANITIZE)
  add_compile_options(-fsanitize=${LOTSE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${LOTSE_SANITIZE})
endif()
