# The kit on The Littlest JupyterHub: install.sh copies this to /opt/tljh/config/jupyterhub_config.d/.
# TLJH already runs each student as their own system user (jupyter-<name>) under systemd, with the
# memory and CPU limits that install.sh sets; this adds what the kit needs. Only the standard library:
# the hub's own environment (/opt/tljh/hub) does not have the kit.
import os
import pwd
import stat
from pathlib import Path
from urllib.parse import quote

HANDIN_ROOT = Path("/srv/mtl-teach/handin")  # instructors collect from here: sudo mtl-teach collect ... --root
REPO = "https://github.com/mtl-teach/mtl-teach"  # a fork: its own address
BRANCH = "main"

c = get_config()  # noqa: F821 (JupyterHub provides get_config)

# Every server opens with nbgitpuller: clone (or merge-pull) the kit, then show its start page.
START_PAGE = f"lab/tree/{REPO.rstrip('/').rsplit('/', 1)[1]}/notebooks/README.md"  # in the clone nbgitpuller makes
c.Spawner.default_url = f"/git-pull?repo={quote(REPO, safe='')}&branch={BRANCH}&urlpath={quote(START_PAGE, safe='')}"


def make_dropbox(spawner):
    """Before a student's server starts: their hand-in folder, theirs alone (mode 0700), in a root they cannot list."""
    account = pwd.getpwnam(f"jupyter-{spawner.user.name}")  # TLJH's system user for this student
    HANDIN_ROOT.mkdir(parents=True, exist_ok=True)
    os.chmod(HANDIN_ROOT, 0o711)
    dropbox = HANDIN_ROOT / spawner.user.name
    if not dropbox.exists():
        dropbox.mkdir(mode=0o700)
    fd = os.open(dropbox, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)  # never follow a planted link
    try:
        os.fchown(fd, account.pw_uid, account.pw_gid)
        if stat.S_IMODE(os.fstat(fd).st_mode) != 0o700:
            os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


c.Spawner.pre_spawn_hook = make_dropbox
c.Spawner.environment.update(
    {
        "MTL_TEACH_HANDIN": lambda spawner: str(HANDIN_ROOT / spawner.user.name),
        "OMP_NUM_THREADS": "1",  # one torch thread per kernel: a shared server's cores only fight otherwise
    }
)
