#include "cli/app.hpp"

int main(int argc, char** argv) {
  return ef::cli::run_edgeforge(argc, argv);
}
