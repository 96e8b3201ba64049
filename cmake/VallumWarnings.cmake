# docs/architecture.md §8: our code builds with this warning set and -Werror in every preset.
add_library(vallum_warnings INTERFACE)
target_compile_options(vallum_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Werror)
