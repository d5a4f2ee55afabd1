/*
 * gccmd.h - the `berth garbage-collect` command (gccmd.c).
 */
#ifndef BERTH_GCCMD_H
#define BERTH_GCCMD_H

/*
 * Runs the command; argv[0] is "garbage-collect".  Returns the process
 * exit status: 0 done, 1 failed, 2 bad usage.
 */
int gccmd_main(int argc, char **argv);

#endif
