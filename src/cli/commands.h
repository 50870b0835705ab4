/* One function per command, each in src/cli/cmd_<name>.c. argv[0] is the command name. Each
 * returns an xfer_status that main() turns into the exit status. */
#ifndef XFER_CLI_COMMANDS_H
#define XFER_CLI_COMMANDS_H

#include "opts.h"

int cmd_run(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_step(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* For commands not implemented yet: parses the options of spec (so --help works and typos are
 * caught), then says "not implemented yet" and returns XFER_ENOTIMPL. */
int xfer_cmd_not_implemented(const xfer_cmd_spec *spec, int argc, char **argv);

/* Parses argv against spec; prints the error and returns its code, XFER_OPTS_HELP after --help, or
 * XFER_OK. Commands call it first. */
int xfer_cmd_parse(const xfer_cmd_spec *spec, int argc, char **argv, const char **pos, int *npos);

#endif
