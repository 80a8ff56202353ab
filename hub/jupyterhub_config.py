# The kit's JupyterHub, as `make hub` runs it. The README ("In a classroom") explains every line.
# The HUB_* variables come from the Makefile; HubSettings checks them and says how to fix a bad one.
import subprocess

from mtl_teach.classroom.hub import HubSettings

c = get_config()  # noqa: F821 (JupyterHub provides get_config)
hub = HubSettings.from_environment()
for warning in hub.warnings():
    print(f"[mtl-teach hub] {warning}", flush=True)
hub.prepare()  # state folders, hand-in root; with system users, checks that they can run the kit

# Where it listens: loopback unless HUB_IP says otherwise.
c.JupyterHub.ip = hub.ip
c.JupyterHub.port = hub.port
# Behind it, on loopback ports free now: the hub itself, and the proxy's API.
c.JupyterHub.hub_port = hub.free_port()
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{hub.free_port()}"
# The proxy in front of the hub: configurable-http-proxy, pinned in package-lock.json.
c.ConfigurableHTTPProxy.command = [hub.proxy]
c.ConfigurableHTTPProxy.pid_file = str(hub.state / "hub" / "proxy.pid")
# The hub's own files, private (0700): its database and cookie secret.
c.JupyterHub.db_url = f"sqlite:///{hub.state / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(hub.state / "hub" / "jupyterhub_cookie_secret")

# Who logs in: system accounts (PAM), or the demo's one shared password.
c.JupyterHub.authenticator_class = hub.authenticator_class()
c.SharedPasswordAuthenticator.user_password = hub.password
c.LocalAuthenticator.create_system_users = hub.auth == "dummy"  # the demo's names get accounts (local spawner)
c.Authenticator.username_pattern = hub.username_pattern
c.Authenticator.admin_users = set(hub.admins)
if hub.group:
    c.Authenticator.allowed_groups = {hub.group}  # PAM: only this group's members
else:
    c.Authenticator.allow_all = True  # every account (PAM), every name (demo)

# How each student's server runs: as their own system user, or (simple) as the hub's user.
c.JupyterHub.spawner_class = "localprocess" if hub.spawner == "local" else "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(hub.state / "homes" / "{username}")
c.Spawner.cmd = [str(hub.python), "-m", "jupyterhub.singleuser"]  # the Python with the kit installed
if hub.euid == 0 and hub.spawner == "simple":
    c.Spawner.args = ["--allow-root"]  # the demo as root: every server runs as root
# No terminal for the servers: Ctrl+C on the hub stops them at once, without their "Shutdown?" prompt.
c.LocalProcessSpawner.popen_kwargs = {"stdin": subprocess.DEVNULL}
# Each server opens with nbgitpuller: clone (or merge-pull) the kit, then show its start page.
c.Spawner.default_url = hub.start_url
# Before a server starts: the student's dropbox for hand-ins; its path goes in MTL_TEACH_HANDIN.
c.Spawner.pre_spawn_hook = hub.pre_spawn_hook
c.Spawner.environment = hub.environment
# Stopping the hub (Ctrl+C) stops every student's server and the proxy.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
