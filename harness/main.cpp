#include "harness/cli.h"

int main(int argc, char** argv) { return lb::cli_main(argc, argv); }
