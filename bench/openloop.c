/* open+close of one file in a loop for SECONDS; prints the number of iterations per second.
 * The loop runs in a child: a process keeps across exec the fd table it was forked with, which is
 * larger than the one inside files_struct when its parent had more than 64 fds open (a bench with
 * BCC's maps open), unlike a process started by a shell or a service manager; this one's child
 * gets a table sized for what is open here. */
#include <fcntl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    const char *path = argc > 2 ? argv[2] : "/etc/hostname";
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child > 0) {
        int status = 0;
        waitpid(child, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long n = 0;
    double elapsed = 0;
    do {
        for (int i = 0; i < 1000; i++)
            close(open(path, O_RDONLY));
        n += 1000;
        clock_gettime(CLOCK_MONOTONIC, &now);
        elapsed = (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
    } while (elapsed < seconds);
    printf("%.0f\n", n / elapsed);
    return 0;
}
