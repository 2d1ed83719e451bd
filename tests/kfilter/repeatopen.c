/* One thread, pinned to one CPU, repeats an open the kernel filter keeps in the kernel (so that the
 * probe remembers it: kf_repeat), then changes one thing that decided it and opens once more.
 *
 *   repeatopen mutate  PATH OTHER    the same buffer, its bytes changed to OTHER (same length)
 *   repeatopen retarget LINK TARGET  LINK replaced by a symlink to TARGET
 *   repeatopen move LINK FILE DEST   (LINK points to FILE) FILE renamed to DEST, LINK then pointed there
 *   repeatopen reuse   PATH          a socket made and closed (its fd number), then PATH again
 *   repeatopen exec    PATH AS       exec'd again through the link AS (a new comm), PATH opened once
 *   repeatopen wait    PATH          a line read from stdin, then PATH again
 *   repeatopen once    PATH          PATH opened once (what `exec` runs)
 * Each opens read-only and closes at once. With REPEATOPEN_FORK set, all of it happens in a child
 * (whose fd table is the one inside its files_struct: see bench/openloop.c). The first line out is
 * the fd table's size (FDSize in /proc/self/status). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPEATS 2000

/* All six argument registers set, so that nothing but what a mode changes differs between opens
 * (glibc's open leaves the unused ones as the last call had them). */
static void open_close(const char *path)
{
    int fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY, 0, 0, 0);
    if (fd >= 0)
        close(fd);
}

static void repeat(const char *path)
{
    for (int i = 0; i < REPEATS; i++)
        open_close(path);
}

static void print_fdsize(void)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "FDSize:", 7))
            printf("fdsize %d\n", atoi(line + 7));
    if (f)
        fclose(f);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    if (getenv("REPEATOPEN_FORK") && strcmp(argv[1], "once")) {
        pid_t child = fork();
        if (child < 0)
            return 1;
        if (child > 0) {
            int status = 0;
            waitpid(child, &status, 0);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        }
    }
    if (strcmp(argv[1], "once"))
        print_fdsize();
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof(one), &one);   /* the probe remembers per CPU */
    const char *mode = argv[1];
    static char buf[256];
    snprintf(buf, sizeof(buf), "%s", argv[2]);
    if (!strcmp(mode, "once")) {
        open_close(buf);
        return 0;
    }
    repeat(buf);
    if (!strcmp(mode, "mutate") && argc > 3) {
        if (strlen(argv[3]) != strlen(buf))
            return 2;
        memcpy(buf, argv[3], strlen(argv[3]));
    } else if (!strcmp(mode, "retarget") && argc > 3) {
        char tmp[300];
        snprintf(tmp, sizeof(tmp), "%s.new", buf);
        if (symlink(argv[3], tmp) || rename(tmp, buf))
            return 3;
    } else if (!strcmp(mode, "move") && argc > 4) {
        char tmp[300];
        snprintf(tmp, sizeof(tmp), "%s.new", buf);
        if (rename(argv[3], argv[4]) || symlink(argv[4], tmp) || rename(tmp, buf))
            return 3;
    } else if (!strcmp(mode, "reuse")) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0)
            return 3;
        close(s);
    } else if (!strcmp(mode, "exec") && argc > 3) {
        execl(argv[3], argv[3], "once", buf, (char *)NULL);
        return 3;
    } else if (!strcmp(mode, "wait")) {
        char line[16];
        printf("ready\n");
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin))
            return 3;
    } else {
        return 2;
    }
    open_close(buf);
    return 0;
}
