/* The attack corpus's helper for calls that Python and the shell do not make directly:
 *   helper openat2 PATH r|w          open PATH with openat2 (w: create/truncate and write a line)
 *   helper execveat PATH ARG...      execveat(fd of PATH, "", AT_EMPTY_PATH): run PATH by descriptor
 *   helper execveat-dir DIR NAME ARG...  execveat(fd of DIR, NAME): a path relative to a descriptor
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "openat2")) {
        struct open_how how = {0};
        int w = !strcmp(argv[3], "w");
        how.flags = w ? (O_WRONLY | O_CREAT | O_TRUNC) : O_RDONLY;
        how.mode = w ? 0644 : 0;
        int fd = syscall(SYS_openat2, AT_FDCWD, argv[2], &how, sizeof how);
        if (fd < 0) { perror("openat2"); return 1; }
        if (w && write(fd, "x\n", 2) != 2) return 1;
        return close(fd);
    }
    if (argc >= 4 && !strcmp(argv[1], "execveat")) {
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) { perror("open"); return 1; }
        syscall(SYS_execveat, fd, "", &argv[3], environ, AT_EMPTY_PATH);
        perror("execveat");
        return 1;
    }
    if (argc >= 5 && !strcmp(argv[1], "execveat-dir")) {
        int fd = open(argv[2], O_RDONLY | O_DIRECTORY);
        if (fd < 0) { perror("open"); return 1; }
        syscall(SYS_execveat, fd, argv[3], &argv[4], environ, 0);
        perror("execveat");
        return 1;
    }
    fprintf(stderr, "usage: helper openat2|execveat|execveat-dir ...\n");
    return 2;
}
