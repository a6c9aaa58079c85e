#include "hearth/cli/commands.h"

int main(int argc, char** argv) { return hearth::cli::RunCli(argc, argv); }
