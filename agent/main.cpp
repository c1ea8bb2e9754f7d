#include "agent/cli.hpp"

int main(int argc, char** argv) {
  return ef::agent::run_agent(argc, argv);
}
