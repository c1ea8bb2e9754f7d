#include "fleet/commands.hpp"

#ifndef EF_VERSION
#define EF_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  ef::cmdline::Program program{"edgeforge-fleet",
                               "edgeforge-fleet registers devices and collects their reports.",
                               EF_VERSION,
                               {ef::fleet::add_serve_command},
                               /*exits_marked_bad=*/false,
                               {}};
  return ef::cmdline::run_program(program, argc, argv);
}
