/*
 * usercmd.h - `berth user`: adds, re-passwords and deletes users of an
 * htpasswd file, hashing with bcrypt.
 */
#ifndef BERTH_USERCMD_H
#define BERTH_USERCMD_H

/*
 * Runs `berth user add|passwd|del FILE NAME`, with argv[0] = "user".
 * The password comes from the terminal (asked twice, not echoed) or,
 * when standard input is not a terminal, from its first line.  The
 * bcrypt cost is 10, or BERTH_BCRYPT_COST (4 to 31) when set.  The file
 * is replaced atomically and every other line is kept as it was.
 * Returns the exit status: 0 done, 1 failed (nothing changed), 2 usage.
 */
int usercmd_main(int argc, char **argv);

#endif
